SELECT name, score * 2 FROM people ORDER BY 2 DESC, 1
