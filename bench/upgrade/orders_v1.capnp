# The orders bench/upgrade_vs_sqlite.sh upgrades, before.
@0xc0a7e1b2d3f40511;
using Db = import "/capdb/annotations.capnp";

struct Order $Db.table("orders") $Db.version(1) $Db.primaryKey(["id"])
    $Db.index([(name = "by_customer_day", fields = ["customer", "day"])]) {
  id @0 :Int64;
  customer @1 :Int64;
  day @2 :Int32;
  amount @3 :Float64;
  status @4 :Text;
}
