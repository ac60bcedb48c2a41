UPDATE people SET id = id + 1
