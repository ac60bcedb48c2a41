SELECT id FROM people WHERE NOT (city = 'Paris') ORDER BY id
