SELECT name FROM people WHERE city = 'Paris' ORDER BY score LIMIT 2
