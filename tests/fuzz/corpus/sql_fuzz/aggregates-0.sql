SELECT COUNT(*), COUNT(name), SUM(age), AVG(age), MIN(age), MAX(name) FROM people
