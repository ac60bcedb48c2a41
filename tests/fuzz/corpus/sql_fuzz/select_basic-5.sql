SELECT name, 1, 2.5, 'x', x'0102', NULL, TRUE, FALSE FROM people WHERE id = 1
