# capdb's catalog: what a database knows about itself, stored in the LMDB database "capdb:catalog"
# (docs/format.md gives its keys). Read once at open and cached.
@0xe57aed36b76a47ea;

using Cxx = import "/capnp/c++.capnp";
using Schema = import "/capnp/schema.capnp";
$Cxx.namespace("capdb::catalog");

# Key ("format"). A database whose formatVersion this build does not know is refused.
struct Header {
  formatVersion @0 :UInt32;
}

enum IndexState {
  ready @0;      # complete: maintained by every write and used by queries
  building @1;   # maintained by every write, being filled in batches; not used by queries yet
  failed @2;     # a unique index whose build met duplicates: neither maintained nor read, its
                 # database empty, until the app drops it or restarts its build
}

struct IndexEntry {
  name @0 :Text;
  fields @1 :List(Text);
  unique @2 :Bool;
  state @3 :IndexState;
  distinctKeys @4 :UInt64;   # planner statistic: distinct index keys (approximate)
  checkpoint @5 :Data;       # building: the last primary key whose record the build has entered
                             # (every record at or before it has its entry); empty: none yet
  done @6 :UInt64;           # building: records the build has entered so far
  held @7 :Bool;             # building: the entries are the old definition's, kept while the
                             # table's migration may still be undone; the build starts (from an
                             # emptied database) when it no longer can
  duplicates @8 :List(Text); # failed: the first offending keys (or records), one line each
  readySince @9 :UInt64;     # ready: the first transaction id whose snapshot holds every entry
                             # (the commit of the build's last batch); 0: every snapshot
}

struct VersionCount {
  version @0 :UInt32;
  records @1 :UInt64;
}

# Key ("table", name).
struct TableEntry {
  id @0 :UInt32;               # dense, never reused; names the table's LMDB databases
  name @1 :Text;
  version @2 :UInt32;          # the newest schema version; records may be older (see counts)
  primaryKey @3 :List(Text);
  autoIncrement @4 :Text;      # the autoIncrement field, or empty
  sequence @5 :UInt64;         # the last autoIncrement value handed out
  indexes @6 :List(IndexEntry);
  counts @7 :List(VersionCount);  # exact records per schema version; versions with 0 omitted
  migration @8 :Migration;      # set while old records are being rewritten or indexes rebuilt
  recordsTree @9 :UInt32;       # which of the table's two records databases holds its records:
                                # 0 "table:<table>", 1 "table.1:<table>"; an undoable migration
                                # fills the other one and swaps them
  recordsSince @10 :UInt64;     # the first snapshot in which recordsTree holds the records (the
                                # swap's commit); 0: every snapshot
}

# An eager rewrite in progress: each batch commits its checkpoint with its records, so a crash
# loses at most the batch in flight and the next run continues after the checkpoint.
struct Migration {
  phase @0 :MigrationPhase;
  checkpoint @1 :Data;          # the last primary key done in this phase; empty: none yet
  total @2 :UInt64;             # records at old versions when the migration began
  done @3 :UInt64;              # records rewritten so far
  fromVersion @4 :UInt32;       # the table's version before the migration began
  sqlSteps @5 :List(Text);      # when every step is declarative: their MIGRATE statements, so
                                # that a tool without the app can read and finish the migration
  rekey @6 :Bool;               # the migration changes primary keys: records move to a new
                                # database under their new keys (phases rekey, then install)
  stepless @7 :Bool;            # the migration began with no step to read old records through
                                # (a key change alone): a later open without steps may finish it
  before @8 :Data;              # while the migration may still be undone (phases check, rekey,
                                # and records when an eager open began it): the table's entry (a
                                # TableEntry message) as it was before, restored as it is when the
                                # migration fails
  dropIndexes @9 :List(Text);   # indexes the new version no longer has: their databases are
                                # dropped once the migration can no longer be undone
  stepsBelow @10 :UInt32;       # records at versions below this one were read through steps
                                # when the migration began (or an earlier one it replaced): an
                                # open with no step for them is refused. 0: none, or not recorded
                                # (an earlier build: then `stepless` decides)
}

enum MigrationPhase {
  records @0;                   # rewriting old records at the newest version
  indexes @1;                   # rebuilding the indexes marked building
  check @2;                     # before anything is rewritten: the new keys of rebuilt unique
                                # indexes are checked for duplicates in a scratch database
  rekey @3;                     # copying every record, upgraded, under its new primary key into
                                # the table's other records database (an earlier format:
                                # "capdb:rekey:<table>"); the table's own records are untouched
  install @4;                   # an earlier format: the table's records were cleared; copying
                                # the re-keyed records back into it
  replace @5;                   # an earlier format: an undoable rewrite wrote every record's new
                                # version into "capdb:rewrite:<table>"; copying each over its old
                                # version (one the app has not rewritten or deleted since)
}

# Key ("schema", table name, version): one version of a table's schema, with every node it
# needs, so that any tool can read the table's records without the .capnp source.
struct StoredSchema {
  table @0 :Text;
  version @1 :UInt32;
  rootId @2 :UInt64;           # the table's struct among the nodes
  request @3 :Schema.CodeGeneratorRequest;
}
