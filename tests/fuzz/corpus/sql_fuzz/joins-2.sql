SELECT count(*), max(b.name) FROM people a RIGHT JOIN people b ON b.email = a.email CROSS JOIN events e GROUP BY a.city HAVING count(*) > 1
