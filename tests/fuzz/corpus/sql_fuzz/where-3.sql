SELECT device, seq FROM events WHERE value = 0.1
