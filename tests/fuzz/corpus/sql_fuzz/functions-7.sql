SELECT typeof(1), typeof(1.5), typeof('a'), typeof(x'00'), typeof(NULL), typeof(TRUE), typeof(1 = 1) FROM events
