UPDATE people SET age = agge + 1
