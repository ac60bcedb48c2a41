SELECT name, score FROM people ORDER BY score DESC, id
