INSERT INTO people (name, email, age, city, score, active, balance, photo, kind, address.zip)
VALUES ('Ann', 'ann@example.com', 31, 'Paris', 88.5, TRUE, 1200, x'00ff', 'person', 75001),
       ('Bob', NULL, 25, 'London', 72.0, FALSE, -50, NULL, 'company', 0),
       ('Cara', 'cara@example.com', 42, 'Paris', 91.25, TRUE, 0, x'0a', 'robot', 75004),
       ('dan', NULL, 19, NULL, 60.0, FALSE, 300, x'ff', 'person', 0),
       ('Eva', 'eva@example.com', 58, 'Berlin', 79.75, TRUE, -7, NULL, 'company', 10115),
       ('Finn', 'finn@example.com', 25, 'Paris', 70.0, FALSE, 5, x'00', 'robot', 75001),
       ('Gus', 'gus@example.com', 31, NULL, 88.5, TRUE, 42, x'0a00', 'person', 69001)
