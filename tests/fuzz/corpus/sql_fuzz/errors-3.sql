SELECT * FROM peple
