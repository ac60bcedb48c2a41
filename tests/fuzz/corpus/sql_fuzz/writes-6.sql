SELECT id, score, active, age FROM people ORDER BY id
