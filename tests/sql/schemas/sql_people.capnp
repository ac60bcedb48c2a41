@0xd61050620913875d;
using Db = import "/capdb/annotations.capnp";
$import "/capnp/c++.capnp".namespace("capdb::sqltest");

# The tables the SQL tests run on: every column type SQL reads, NULL-able Text and Data, a group,
# a unique index, a one-field index, a composite index and a composite primary key.

enum Kind {
  person @0;
  company @1;
  robot @2;
}

struct Person $Db.table("people") $Db.version(1) $Db.primaryKey(["id"])
    $Db.index([(name = "by_city_age", fields = ["city", "age"])]) {
  id @0 :UInt64 $Db.autoIncrement;
  name @1 :Text;
  email @2 :Text $Db.unique;
  age @3 :UInt8 $Db.indexed;
  city @4 :Text;
  score @5 :Float64;
  active @6 :Bool;
  balance @7 :Int64;
  photo @8 :Data;
  kind @9 :Kind;
  address :group {
    street @10 :Text;
    zip @11 :UInt32;
  }
  tags @12 :List(Text);
}

struct Event $Db.table("events") $Db.version(1) $Db.primaryKey(["device", "seq"]) {
  device @0 :Text;
  seq @1 :Int32;
  level @2 :Int16;
  value @3 :Float32;
  note @4 :Text;
}

# Tables for joins: customers with a Text code (NULL-able, indexed), orders pointing at a customer
# by id (with a composite index) and by code (no index), and the lines of each order under a
# composite primary key.
struct Customer $Db.table("customers") $Db.version(1) $Db.primaryKey(["id"])
    $Db.index([(name = "by_city", fields = ["city"])]) {
  id @0 :Int64;
  name @1 :Text;
  city @2 :Text;
  code @3 :Text $Db.indexed;
}

struct Order $Db.table("orders") $Db.version(1) $Db.primaryKey(["id"])
    $Db.index([(name = "by_customer_day", fields = ["customer", "day"])]) {
  id @0 :Int64;
  customer @1 :Int64;
  day @2 :Int32;
  amount @3 :Float64;
  code @4 :Text;
  status @5 :Text;
}

struct Line $Db.table("lines") $Db.version(1) $Db.primaryKey(["order", "line"]) {
  order @0 :Int64;
  line @1 :Int32;
  product @2 :Text;
  qty @3 :Int32;
}
