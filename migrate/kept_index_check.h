// KeptIndexCheck: what an eager rewrite (Database::migrate, drain) checks of each record it
// rewrites, for the indexes the migration keeps rather than rebuilds. Open rebuilds only the
// indexes over fields that some step declares in StepOptions::writes; a step that changes
// another indexed field would leave the record's entry in that index stale, so the rewrite fails
// instead, before anything of its batch is written to the table's own records (an undoable
// migration's earlier chunks, in the other records database, go with the undo).
#pragma once

#include <capnp/dynamic.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/txn.h"
#include "orm/catalog.h"
#include "orm/table_core.h"

namespace capdb::migrate {

class KeptIndexCheck {
 public:
  // The indexes of `core` that `info`, the table's catalog entry as the batch's transaction sees
  // it, does not mark for rebuilding. `core` must outlive this.
  KeptIndexCheck(const orm::TableCore& core, const orm::TableInfo& info);

  // `record` is the newest-version form of the record stored under `pk` as `stored` (its bytes at
  // an old version, still in the table), and `old` that record read with the schema its version
  // is read with (Upgrader::readSchema: its own, or a later wire-compatible one). Every
  // kept index must already hold the entry `record` implies: the index holds the entry written
  // when the record was stored (or, for an index built after the migration began, through the
  // steps), which is that entry unless the steps changed the index's key. When the index's
  // fields read the same in `old` and `record`, it does (no lookup); otherwise one lookup.
  //
  // Throws MigrationFailed naming the table, the key, the steps, the changed fields and the index,
  // and asking for the fields in StepOptions::writes. An entry that is missing although none of
  // the index's fields changed (a damaged index) is not the steps' doing and passes here; capdb
  // verify reports it once the record is at the newest version.
  void check(const engine::Txn& txn, capnp::DynamicStruct::Reader old,
             capnp::DynamicStruct::Reader record, std::string_view pk, std::string_view stored);
  // Whether check() has anything to look up for this record: some kept index's fields read
  // differently in `old` and `record`. Reads no transaction, so a thread other than the one that
  // holds it may ask (with its own KeptIndexCheck); the holder then calls check().
  bool needsLookup(capnp::DynamicStruct::Reader old, capnp::DynamicStruct::Reader record);
  // Whether the migration keeps any index: if not, no record needs a lookup.
  bool keepsAny() const { return !kept_.empty(); }

 private:
  // Whether `index`'s fields encode to the same key bytes in `old` (read at its own version,
  // whose paths are resolved once per version) and `record`.
  bool sameKey(size_t index, capnp::DynamicStruct::Reader old, capnp::DynamicStruct::Reader record);

  // The fields of `index` whose key values differ between `old`, the stored record read at its
  // own version, and `record`, its newest-version form.
  static std::vector<std::string> changedFields(const orm::IndexCore& index,
                                                capnp::DynamicStruct::Reader old,
                                                capnp::DynamicStruct::Reader record);

  const orm::TableCore& core_;
  std::vector<const orm::IndexCore*> kept_;
  // By kept index and old schema (a few versions: searched in turn): the index's field paths in
  // that schema (nullopt: a field it lacks, so the key cannot be the same).
  struct OldPaths {
    size_t index;
    capnp::StructSchema schema;
    std::optional<std::vector<orm::FieldPath>> paths;
  };
  std::vector<OldPaths> oldPaths_;
};

}  // namespace capdb::migrate
