SELECT SUM(age * 2), MAX(length(name)), COUNT(CASE WHEN active THEN 1 END), SUM(CASE WHEN city = 'Paris' THEN 1 ELSE 0 END) FROM people
