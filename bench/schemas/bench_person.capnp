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
