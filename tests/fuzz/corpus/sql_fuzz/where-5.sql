SELECT id FROM people WHERE score IN (88.5, 60) ORDER BY id
