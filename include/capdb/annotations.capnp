# capdb's schema annotations. Apps import this file as "/capdb/annotations.capnp":
#
#   using Db = import "/capdb/annotations.capnp";
#   struct Person $Db.table("people") $Db.version(1) $Db.primaryKey(["id"]) { ... }
#
# Every id here is fixed: Cap'n Proto finds an annotation's declaration by its id alone, so
# changing one would make capdb blind to it in every schema already written.
@0xdce8789473e5b23a;

$import "/capnp/c++.capnp".namespace("capdb::annotations");

# The table's name. A struct without it is a plain nested type, not a table.
annotation table @0xe741490b102a9ecf (struct) :Text;

# The table's schema version; 1 when absent. Raise it with each change that needs a migration
# step (see docs/migrations.md).
annotation version @0xa0c2257e0161f9e1 (struct) :UInt32;

# The primary key: field names in key order. Several names make a composite key; dotted paths
# reach into nested structs ("address.zip"). List fields cannot be keys.
annotation primaryKey @0xa400af0b012cb92d (struct) :List(Text);

# On an integer primary-key field: a record inserted with 0 there gets the next value of the
# table's sequence.
annotation autoIncrement @0xc0bffbd318805972 (field) :Void;

# A secondary index over one or more fields (dotted paths allowed).
struct Index @0xb7aca5c7bb4ce881 {
  name @0 :Text;
  fields @1 :List(Text);
  unique @2 :Bool;
}
annotation index @0x9e7b0fce44cbd7fa (struct) :List(Index);

# Shorthands for one-field indexes, named <table>_<field>.
annotation indexed @0x8023646d2950fc5c (field) :Void;
annotation unique @0xa38e95f1f4d2e25f (field) :Void;
