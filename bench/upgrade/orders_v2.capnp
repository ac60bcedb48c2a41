# The orders bench/upgrade_vs_sqlite.sh upgrades, after: status renamed, two computed fields
# (migrate_v2.sql), and an index over one of them.
@0xc0a7e1b2d3f40511;
using Db = import "/capdb/annotations.capnp";

struct Order $Db.table("orders") $Db.version(2) $Db.primaryKey(["id"])
    $Db.index([(name = "by_customer_day", fields = ["customer", "day"]),
               (name = "by_week", fields = ["week"])]) {
  id @0 :Int64;
  customer @1 :Int64;
  day @2 :Int32;
  amount @3 :Float64;
  state @4 :Text;
  amountCents @5 :Int64;
  week @6 :Int32;
}
