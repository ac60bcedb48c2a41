INSERT INTO people (name, address.zip) VALUES ('X', NULL)
