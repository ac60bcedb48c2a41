SELECT CAST('7' AS integer), CAST(level AS TEXT), CAST(value AS INTEGER), CAST(seq AS REAL) FROM events WHERE seq = 1
