SELECT substr('héllo', 2, 2), substr(12345, 2, 2), substr(x'00ff10', 2, 1), substr(NULL, 1), substr('abc', NULL), substr('abc', 1, NULL) FROM events
