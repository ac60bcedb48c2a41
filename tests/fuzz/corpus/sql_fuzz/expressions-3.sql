SELECT 'a' || 'b', 'a' || NULL, NULL || 'b', 1 || 2, 1.5 || 'x', 2.0 || '', x'41' || 'b', '' || '' FROM events WHERE seq = 1
