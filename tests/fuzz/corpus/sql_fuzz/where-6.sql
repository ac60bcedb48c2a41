SELECT id FROM people WHERE name LIKE '_'
