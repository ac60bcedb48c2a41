INSERT INTO people (name, email, age, city) VALUES ('Eve', 'eve@example.com', 58, 'Berlin');
SELECT name, age FROM people WHERE city = 'Berlin' AND age > 30 ORDER BY age;
