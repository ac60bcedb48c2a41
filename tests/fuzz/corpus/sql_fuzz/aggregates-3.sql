SELECT kind, active, COUNT(*), AVG(age) FROM people GROUP BY kind, active ORDER BY kind, active
