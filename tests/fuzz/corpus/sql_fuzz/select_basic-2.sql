SELECT name, address.street, address.zip FROM people ORDER BY id
