INSERT INTO people (name, age, city) VALUES ('Ann', 31, 'Paris')
