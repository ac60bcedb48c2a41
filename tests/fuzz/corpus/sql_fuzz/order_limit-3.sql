SELECT name, address.zip FROM people ORDER BY address.zip DESC, name
