SELECT id, replace(name, ' ', '_'), replace(kind, 'o', '0') FROM people ORDER BY id
