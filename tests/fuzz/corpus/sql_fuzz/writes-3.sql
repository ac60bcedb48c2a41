INSERT INTO people (name, address.zip) VALUES ('X', 4294967296)
