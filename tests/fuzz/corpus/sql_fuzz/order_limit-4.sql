SELECT name FROM people ORDER BY length(name) DESC, name
