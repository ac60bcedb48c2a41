INSERT INTO people (name, email, age, city, score, active, balance, photo, kind, address.street, address.zip)
VALUES ('Ann', 'ann@example.com', 31, 'Paris', 88.5, TRUE, 1200, x'00ff', 'person', '1 Rue A', 75001),
       ('Bob', NULL, 25, 'London', 72.0, FALSE, -50, NULL, 'company', NULL, 0),
       ('Cara', 'cara@example.com', 42, 'Paris', 91.25, TRUE, 0, x'0a', 'robot', '9 Quai B', 75004),
       ('', NULL, 19, NULL, 60, FALSE, 300, NULL, 'person', NULL, 0),
       ('Eve', 'eve@example.com', 31, 'Paris', 88.5, TRUE, 1200, NULL, 'person', '1 Rue A', 75001)
