SELECT p.name, e.level FROM people p JOIN events e ON e.seq = p.age WHERE p.city = 'Paris' ORDER BY p.id LIMIT 5
