INSERT INTO people (name, email) VALUES ('After', 'after@example.com')
