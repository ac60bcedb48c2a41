SELECT city, COUNT(*) FROM people GROUP BY city HAVING COUNT(*) > 1
