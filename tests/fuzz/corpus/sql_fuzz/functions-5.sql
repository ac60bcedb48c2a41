SELECT round(2.5), round(-2.5), round(0.5), round(1.4), round(5), typeof(round(5)), round(NULL) FROM events
