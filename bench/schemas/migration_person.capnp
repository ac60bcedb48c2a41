# Generated types for the typed migration step in migration_bench: the Person struct at version 1
# and after a field is added, with the layouts of the schemas the benchmark parses.
@0xb7c6d5e4f3a2b1c0;
$import "/capnp/c++.capnp".namespace("capdb::bench");

struct PersonV1 {
  id @0 :UInt64;
  name @1 :Text;
  email @2 :Text;
  age @3 :UInt8;
  city @4 :Text;
  score @5 :Float64;
}

struct PersonAdded {
  id @0 :UInt64;
  name @1 :Text;
  email @2 :Text;
  age @3 :UInt8;
  city @4 :Text;
  score @5 :Float64;
  nameLength @6 :UInt32;
}
