SELECT 1e999 - 1e999 IS NULL, typeof(1e999 * 0) FROM people WHERE id = 1
