SELECT DISTINCT address.street, address.zip FROM people ORDER BY address.zip
