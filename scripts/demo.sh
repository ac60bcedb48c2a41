#!/usr/bin/env bash
# The tour that `make demo` runs after the example app: the capdb command on a fresh database.
# Create it from a schema, import, query, change the schema, upgrade lazily then eagerly, and show
# the status at each step. Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail

bin="${1:-build}/bin/capdb"
here="$(cd "$(dirname "$0")/.." && pwd)"
example="$here/examples/people"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
db="$work/people.capdb"

if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
# Prints a command so that it can be pasted back into a shell, then runs it.
step() {
  local shown="" arg
  for arg in "$@"; do
    arg="${arg#$here/}"
    if [[ "$arg" =~ ^[A-Za-z0-9_./=:+-]+$ ]]; then
      shown+="$arg "
    elif [[ "$arg" != *[\"\$\`\\]* ]]; then
      shown+="\"$arg\" "
    else
      shown+="'${arg//\'/\'\\\'\'}' "
    fi
  done
  printf '\n%s$ %s%s\n' "$bold" "${shown% }" "$plain"
  "$@"
}

step "$bin" init "$db" --schema "$example/people.capnp"
step "$bin" import "$db" people "$example/people.jsonl"
step "$bin" sql "$db" "SELECT city, count(*) AS people, avg(age) AS age FROM people GROUP BY city ORDER BY people DESC LIMIT 3"
step "$bin" sql "$db" "EXPLAIN SELECT name FROM people WHERE city = 'Paris' AND age > 40 ORDER BY age"
step "$bin" sql "$db" "SELECT name, age FROM people WHERE city = :city AND age > 40 ORDER BY age" --param city=Paris
step "$bin" diff "$db" --schema "$example/people_v2.capnp"
step "$bin" upgrade "$db" --schema "$example/people_v2.capnp" --migrations "$example/migrate_v2.sql" --dry-run
step "$bin" upgrade "$db" --schema "$example/people_v2.capnp" --migrations "$example/migrate_v2.sql" --mode lazy
step "$bin" status "$db"
step "$bin" sql "$db" "SELECT id, firstName, lastName FROM people WHERE id <= 2"
step "$bin" upgrade "$db" --schema "$example/people_v2.capnp" --mode eager --batch 50
step "$bin" status "$db"
step "$bin" sql "$db" "SELECT firstName, lastName, city FROM people WHERE lastName LIKE 'Tur%' ORDER BY firstName LIMIT 3"
step "$bin" verify "$db"
