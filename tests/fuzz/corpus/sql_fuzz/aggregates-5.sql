SELECT city, COUNT(*) FROM people GROUP BY city ORDER BY COUNT(*) DESC, city
