@0xd1a6b7c3e4f50817;
using Db = import "/capdb/annotations.capnp";
$import "/capnp/c++.capnp".namespace("capdb::test");

enum Color { red @0; green @1; blue @2; }

struct Address {
  street @0 :Text;
  zip @1 :Text;
  geo @2 :Geo;
  struct Geo { lat @0 :Float64; lon @1 :Float64; }
}

struct AllTypes $Db.table("all_types") $Db.version(3) $Db.primaryKey(["id"])
    $Db.index([(name = "by_zip_score", fields = ["address.zip", "score"]),
               (name = "by_color", fields = ["color"], unique = false)]) {
  id @0 :UInt64 $Db.autoIncrement;
  void @1 :Void;
  b @2 :Bool;
  i8 @3 :Int8;
  i16 @4 :Int16;
  i32 @5 :Int32 $Db.indexed;
  i64 @6 :Int64;
  u8 @7 :UInt8;
  u16 @8 :UInt16;
  u32 @9 :UInt32;
  u64 @10 :UInt64;
  f32 @11 :Float32;
  score @12 :Float64;
  text @13 :Text $Db.unique;
  data @14 :Data;
  color @15 :Color;
  address @16 :Address;
  point :group {
    x @17 :Int32;
    y @18 :Int32;
  }
  union {
    none @19 :Void;
    count @20 :UInt32;
    label @21 :Text;
  }
  shape :union {
    circle @22 :Float64;
    square @23 :Float64;
  }
  bools @24 :List(Bool);
  ints @25 :List(Int32);
  floats @26 :List(Float64);
  texts @27 :List(Text);
  blobs @28 :List(Data);
  colors @29 :List(Color);
  addresses @30 :List(Address);
  matrix @31 :List(List(Int32));
  withDefault @32 :Int32 = 42;
}

struct Keyed $Db.table("keyed") $Db.primaryKey(["address.zip", "point.x", "name"]) {
  name @0 :Text;
  address @1 :Address;
  point :group { x @2 :Int32; y @3 :Int32; }
}

struct Plain {
  x @0 :Int32;
}
