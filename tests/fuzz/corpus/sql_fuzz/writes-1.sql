INSERT INTO people (name, age, balance, address.zip)
VALUES ('Int1', '42', 30.0, 4294967295),
       ('Int2', 255.0, '-17', '0'),
       ('Int3', 0, -9223372036854775807 - 1, 1)
