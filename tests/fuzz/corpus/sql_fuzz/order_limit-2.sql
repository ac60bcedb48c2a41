SELECT name, email FROM people ORDER BY email DESC, name
