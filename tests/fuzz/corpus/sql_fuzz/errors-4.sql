SELECT name FROM people ORDER BY scor
