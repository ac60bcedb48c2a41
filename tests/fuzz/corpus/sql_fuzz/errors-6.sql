SELECT lenght(name) FROM people
