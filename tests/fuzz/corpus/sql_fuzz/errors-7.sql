SELECT nullif(1) FROM people
