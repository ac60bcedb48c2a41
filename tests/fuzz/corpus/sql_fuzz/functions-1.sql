SELECT length('abc'), length('héllo'), length(''), length(NULL), length(12345), length(-1.5), length(x'0001ff') FROM events
