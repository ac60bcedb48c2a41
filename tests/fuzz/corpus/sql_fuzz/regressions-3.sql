SELECT age - 10 - 5 AS x, count(*) FROM people GROUP BY age - (10 - 5)
