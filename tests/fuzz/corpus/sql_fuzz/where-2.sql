SELECT id FROM people WHERE photo = x'00ff'
