UPDATE people SET city = 'Rome', age = age + 1 WHERE email LIKE '%example.com';
SELECT count(*), max(age) FROM people WHERE city = 'Rome' GROUP BY city;
EXPLAIN SELECT * FROM people WHERE city = 'Rome' AND age BETWEEN 20 AND 40;
