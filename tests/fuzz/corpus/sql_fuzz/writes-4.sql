INSERT INTO people (name) VALUES (x'41')
