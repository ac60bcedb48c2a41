SELECT name AS who, age AS years, address.zip AS zip FROM people ORDER BY id
