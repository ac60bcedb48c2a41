@0xb1c4f0e2d3a59687;
using Db = import "/capdb/annotations.capnp";
$import "/capnp/c++.capnp".namespace("capdb::test");

struct Person $Db.table("people") $Db.version(1) $Db.primaryKey(["id"])
    $Db.index([(name = "by_city_age", fields = ["city", "age"])]) {
  id @0 :UInt64 $Db.autoIncrement;
  name @1 :Text;
  email @2 :Text $Db.unique;
  age @3 :UInt8 $Db.indexed;
  city @4 :Text;
}
