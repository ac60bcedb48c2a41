INSERT INTO events (device, seq, level, value, note)
VALUES ('x', 1, 5, 2.5, 'five'),
       ('x', 2, 0, -1.0, NULL),
       ('x', 3, -4, 0.5, 'minus')
