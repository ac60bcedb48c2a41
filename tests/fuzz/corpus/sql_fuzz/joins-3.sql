SELECT * FROM people a FULL JOIN people b USING (id); SELECT * FROM people, events WHERE people.age = events.level; SELECT * FROM people x JOIN events y ON 1 JOIN people z ON z.id = x.id
