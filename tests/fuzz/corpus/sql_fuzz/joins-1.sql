SELECT p.*, e.note FROM people AS p LEFT JOIN events AS e ON e.level = p.age AND e.device = p.city WHERE e.seq IS NULL
