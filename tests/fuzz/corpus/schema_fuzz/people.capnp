@0xe3b4c5d6a7f81902;
using Db = import "/capdb/annotations.capnp";
$import "/capnp/c++.capnp".namespace("people");

struct Person $Db.table("people") $Db.version(1) $Db.primaryKey(["id"])
    $Db.index([(name = "by_city_age", fields = ["city", "age"])]) {
  id @0 :UInt64 $Db.autoIncrement;
  name @1 :Text;
  email @2 :Text $Db.unique;
  age @3 :UInt8 $Db.indexed;
  city @4 :Text;
}
