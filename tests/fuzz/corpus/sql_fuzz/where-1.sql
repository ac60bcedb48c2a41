SELECT id FROM people WHERE balance = -7
