SELECT SUM(balance) FROM people WHERE balance < 0
