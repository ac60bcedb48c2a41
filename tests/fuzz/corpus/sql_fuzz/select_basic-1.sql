SELECT * FROM events ORDER BY device, seq
