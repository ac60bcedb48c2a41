MIGRATE orders FROM 1 TO 2 SET amountCents = CAST(round(amount * 100) AS INTEGER), week = day / 7
