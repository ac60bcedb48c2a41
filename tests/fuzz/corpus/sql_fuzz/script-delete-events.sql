DELETE FROM events WHERE device = 'a' AND seq >= 2;
SELECT device, seq, level, value FROM events ORDER BY device DESC, seq LIMIT 2 OFFSET 1;
