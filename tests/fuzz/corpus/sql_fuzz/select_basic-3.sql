SELECT typeof(id), typeof(name), typeof(age), typeof(score), typeof(active), typeof(photo), typeof(kind), typeof(address.zip) FROM people WHERE id = 1
