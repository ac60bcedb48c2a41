INSERT INTO people (name, email, age, city, score, active, balance, photo, kind, address.street, address.zip)
VALUES ('Ann', 'ann@example.com', 31, 'Paris', 88.5, TRUE, 1200, x'00ff', 'person', '1 Rue A', 75001),
       ('Bob', NULL, 25, 'London', 72.0, FALSE, -50, NULL, 'company', NULL, 0),
       ('Cara', 'cara@example.com', 42, 'Paris', 91.25, TRUE, 0, x'0a', 'robot', '9 Quai B', 75004),
       ('dan', NULL, 19, NULL, 60.0, FALSE, 300, x'ff', 'person', NULL, 0),
       ('Éva', 'eva@example.com', 58, 'Berlin', 79.75, TRUE, -7, NULL, 'company', 'Hauptstr 1', 10115),
       ('Bub', 'bub@example.com', 25, 'Lyon', 0.5, FALSE, 5, x'00', 'robot', '5 Rue_C 100%', 69001)
