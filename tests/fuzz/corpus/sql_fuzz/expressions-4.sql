SELECT seq, CASE note WHEN 'five' THEN 5 WHEN 'minus' THEN -1 END FROM events ORDER BY seq
