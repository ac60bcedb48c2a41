SELECT kind, active, score FROM people GROUP BY kind, active
