@0xc93a1f0e5b7d2486;
using Db = import "/capdb/annotations.capnp";
$import "/capnp/c++.capnp".namespace("capdb::bench");

# A Person-like record of about 100 bytes, the shape every benchmark uses.
struct Person $Db.table("people") $Db.primaryKey(["id"])
    $Db.index([(name = "by_city_age", fields = ["city", "age"])]) {
  id @0 :UInt64 $Db.autoIncrement;
  name @1 :Text;
  email @2 :Text $Db.unique;
  age @3 :UInt8 $Db.indexed;
  city @4 :Text;
}

# The join workload (query_bench): 100k customers and 1M orders, each order pointing at its
# customer, with an index on (customer, day) as an app would declare for "a customer's orders".
struct Customer $Db.table("customers") $Db.primaryKey(["id"]) {
  id @0 :Int64;
  name @1 :Text;
  city @2 :Text;
}

struct Order $Db.table("orders") $Db.primaryKey(["id"])
    $Db.index([(name = "by_customer_day", fields = ["customer", "day"])]) {
  id @0 :Int64;
  customer @1 :Int64;
  day @2 :Int32;
  amount @3 :Float64;
}
