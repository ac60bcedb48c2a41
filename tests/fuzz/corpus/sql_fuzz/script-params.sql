SELECT name FROM people WHERE age = ?1 OR city = ?2 OR score < ? OR photo = ?5 OR name = :name;
INSERT INTO events VALUES (:name, ?1, :n, ?3, ?4);
