INSERT INTO events (device, seq, level, value, note) VALUES ('x', 1, -5, -2.5, NULL)
