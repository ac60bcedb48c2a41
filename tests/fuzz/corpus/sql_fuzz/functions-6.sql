SELECT nullif(1, 1), nullif(1, 2), nullif('a', 'A'), nullif(NULL, 1), nullif(1, NULL), nullif(2, 2.0) FROM events
