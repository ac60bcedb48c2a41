# Generated types for typed migration steps: the people table's struct at two versions, with the
# layouts of the schemas the migration tests parse (no $Db annotations: only the steps use them).
@0xc1d2e3f4a5b6c7d8;
$import "/capnp/c++.capnp".namespace("capdb::test");

struct PersonV1 {
  id @0 :UInt64;
  name @1 :Text;
  score @2 :Float64;
}

struct PersonV2 {
  id @0 :UInt64;
  name @1 :Text;
  score @2 :Float64;
  nameLength @3 :UInt32;
}
