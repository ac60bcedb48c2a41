@0xe3b4c5d6a7f81902;
using Db = import "/capdb/annotations.capnp";
$import "/capnp/c++.capnp".namespace("people");

# Version 2 of people.capnp, for the tour (make demo): `name` splits into firstName (the same
# field, renamed) and lastName (new). `capdb diff` shows the changes; migrate_v2.sql fills them.
struct Person $Db.table("people") $Db.version(2) $Db.primaryKey(["id"])
    $Db.index([(name = "by_city_age", fields = ["city", "age"])]) {
  id @0 :UInt64 $Db.autoIncrement;
  firstName @1 :Text;
  email @2 :Text $Db.unique;
  age @3 :UInt8 $Db.indexed;
  city @4 :Text;
  lastName @5 :Text;
}
