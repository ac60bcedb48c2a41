#!/usr/bin/env bash
# An eager upgrade as a user waits for it, from the command's start to a durable finish: the capdb
# tool's `upgrade` against the sqlite3 tool doing the same migration, on the same orders.
#
#   bench/upgrade_vs_sqlite.sh [RECORDS] [RUNS]      (defaults: 1000000 records, 3 runs)
#
# The migration (bench/upgrade/): rename a field (status -> state), add two computed fields
# (amountCents = round(amount * 100), week = day / 7) and an index over one of them (by_week).
# Both sides start from the same records, with the same index on (customer, day), copied afresh
# (and flushed) before each run; the copy is not timed. Two settings:
#
# - durable: every commit synced. capdb: `capdb upgrade` (a sync per batch), timed to its exit,
#   which closes the database. SQLite: WAL, synchronous=FULL, the migration in one transaction,
#   its COMMIT, `PRAGMA wal_checkpoint(TRUNCATE)` (the changes written into the database file and
#   synced) and the tool's exit.
# - offline: durability waits for the end. capdb: `capdb upgrade --defer-sync` (one sync at the
#   end). SQLite: synchronous=OFF (no sync at all), the rest as above.
#
# Also time to available: `capdb upgrade --mode lazy` (the new version recorded, old records read
# through the steps) against SQLite's blocking migration. Prints each run's seconds and the
# medians; capdb's records/s is records over its durable time.
set -euo pipefail

records=${1:-1000000}
runs=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
capdb=${CAPDB:-$here/../build/bin/capdb}
work=$(mktemp -d "${TMPDIR:-/tmp}/capdb-upgrade-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

[[ -x "$capdb" ]] || { echo "no capdb at $capdb (make build, or set CAPDB)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "no sqlite3 (scripts/install-deps.sh installs it)" >&2; exit 1; }

# The source records, made once by SQLite, exported as JSON lines for capdb.
sqlite3 "$work/source.sqlite" > /dev/null <<SQL
PRAGMA journal_mode = WAL;
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER NOT NULL, day INTEGER NOT NULL,
                     amount REAL NOT NULL, status TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $records)
INSERT INTO orders
SELECT i, 1 + (i * 7919) % 100000, i % 365, ((i * 37) % 100000) / 100.0,
       CASE i % 3 WHEN 0 THEN 'paid' WHEN 1 THEN 'open' ELSE 'void' END FROM n;
CREATE INDEX by_customer_day ON orders (customer, day);
PRAGMA wal_checkpoint(TRUNCATE);
SQL
sqlite3 "$work/source.sqlite" \
  "SELECT json_object('id', id, 'customer', customer, 'day', day, 'amount', amount, 'status', status) FROM orders" \
  > "$work/orders.jsonl"
"$capdb" init "$work/source.capdb" --schema "$here/upgrade/orders_v1.capnp" > /dev/null
"$capdb" import "$work/source.capdb" orders "$work/orders.jsonl" > /dev/null
rm -f "$work/orders.jsonl"

fresh() {  # fresh KIND: a flushed copy of the source database of that kind
  if [[ $1 == capdb ]]; then
    rm -rf "$work/run.capdb"
    cp -r "$work/source.capdb" "$work/run.capdb"
  else
    rm -f "$work/run.sqlite" "$work/run.sqlite-wal" "$work/run.sqlite-shm"
    cp "$work/source.sqlite" "$work/run.sqlite"
  fi
  sync
}

calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }

seconds() {  # seconds COMMAND...: the command's wall time, its output dropped
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null 2>&1
  end=$(date +%s.%N)
  calc "$end - $start"
}

sqlite_migration() {  # sqlite_migration SYNCHRONOUS
  sqlite3 "$work/run.sqlite" <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = $1;
BEGIN;
ALTER TABLE orders RENAME COLUMN status TO state;
ALTER TABLE orders ADD COLUMN amountCents INTEGER;
ALTER TABLE orders ADD COLUMN week INTEGER;
UPDATE orders SET amountCents = CAST(round(amount * 100) AS INTEGER), week = day / 7;
CREATE INDEX by_week ON orders (week);
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
}

upgrade=("$capdb" upgrade "$work/run.capdb" --schema "$here/upgrade/orders_v2.capnp"
         --migrations "$here/upgrade/migrate_v2.sql")

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A times
for ((r = 1; r <= runs; r++)); do
  fresh capdb; times[capdb_durable]+="$(seconds "${upgrade[@]}") "
  fresh capdb; times[capdb_offline]+="$(seconds "${upgrade[@]}" --defer-sync) "
  fresh capdb; times[capdb_lazy]+="$(seconds "${upgrade[@]}" --mode lazy) "
  fresh sqlite; times[sqlite_durable]+="$(seconds sqlite_migration FULL) "
  fresh sqlite; times[sqlite_offline]+="$(seconds sqlite_migration OFF) "
done

# The last upgraded copies agree: every record migrated, the same sums.
fresh capdb; "${upgrade[@]}" > /dev/null 2>&1
fresh sqlite; sqlite_migration FULL > /dev/null
check="SELECT count(*), sum(amountCents), sum(week), count(state) FROM orders"
a=$("$capdb" sql "$work/run.capdb" "$check" --format csv | tail -1)
b=$(sqlite3 -csv "$work/run.sqlite" "$check")
[[ "$a" == "$b" ]] || { echo "capdb and SQLite disagree: $a against $b" >&2; exit 1; }

printf '%d records, %d runs; seconds per run, then the median\n' "$records" "$runs"
for k in capdb_durable sqlite_durable capdb_offline sqlite_offline capdb_lazy; do
  m=$(tr ' ' '\n' <<< "${times[$k]}" | grep . | median)
  printf '%-15s %s  median %.3f\n' "$k" "${times[$k]}" "$m"
  declare "m_$k=$m"
done
printf 'durable: capdb %.0f records/s; SQLite time / capdb time = %.2fx\n' \
  "$(calc "$records / $m_capdb_durable")" "$(calc "$m_sqlite_durable / $m_capdb_durable")"
printf 'offline: SQLite time / capdb time = %.2fx\n' "$(calc "$m_sqlite_offline / $m_capdb_offline")"
printf 'available: capdb lazy %.3f s against SQLite %.3f s\n' "$m_capdb_lazy" "$m_sqlite_durable"
