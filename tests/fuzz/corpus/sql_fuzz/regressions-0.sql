INSERT INTO people (name, email, age, city, score) VALUES
  ('05', 'a@x', 31, '05', 1.0), ('5', 'b@x', 32, '5', 2.0), ('10', 'c@x', 33, '10', 3.0),
  ('abc', 'd@x', 34, 'abc', 4.0), ('5.0', 'e@x', 35, '5.0', 5.0)
