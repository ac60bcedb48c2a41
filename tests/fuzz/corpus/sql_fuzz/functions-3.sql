SELECT trim('xxaxx', 'x'), trim('abcba', 'ab'), ltrim('xxaxx', 'x'), rtrim('xxaxx', 'x'), trim('aaa', 'a'), trim(NULL), trim('a', NULL) FROM events
