#include "migrate/kept_index_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <optional>
#include <utility>

#include "engine/fail.h"
#include "engine/key_codec.h"
#include "orm/record_key.h"
#include "orm/table_reader.h"
#include "orm/table_schema.h"

namespace capdb::migrate {

KeptIndexCheck::KeptIndexCheck(const orm::TableCore& core, const orm::TableInfo& info)
    : core_(core) {
  for (const auto& ic : core.indexes()) {
    for (const auto& ii : info.indexes) {
      if (ii.name == ic.schema.name && ii.state == orm::IndexState::Ready) kept_.push_back(&ic);
    }
  }
}

void KeptIndexCheck::check(const engine::Txn& txn, capnp::DynamicStruct::Reader record,
                           std::string_view pk, std::string_view stored) const {
  for (const orm::IndexCore* index : kept_) {
    std::optional<std::pair<std::string, std::string>> entry;
    try {
      entry = core_.indexEntry(*index, record, pk);
    } catch (const Error&) {
      // A key too long to store: it cannot be in the index either.
    }
    if (entry) {
      auto found = txn.get(index->db, entry->first);
      if (found && *found == entry->second) continue;
    }
    // Only for a missing entry, so its cost does not matter: the stored record is read again, at
    // the version it was written at.
    orm::TableReader reader(core_.catalog(), core_.schema().name);
    orm::TableReader::Record old = reader.decode(txn, pk, stored);
    std::vector<std::string> changed = changedFields(*index, old.value, record);
    if (changed.empty()) continue;
    const orm::Upgrader* upgrader = core_.upgrader();
    std::string steps = upgrader != nullptr
                            ? upgrader->stepNames(old.version)
                            : fmt::format("the migration from version {}", old.version);
    bool one = changed.size() == 1;
    fail(ErrorCode::MigrationFailed,
         "table {}, record {}: {} changed indexed field{} {} (index {}) without declaring {} in "
         "StepOptions::writes; declare {} so that the index is rebuilt",
         core_.schema().name, engine::formatKey(pk), steps, one ? "" : "s",
         fmt::join(changed, ", "), index->schema.name, one ? "it" : "them", one ? "it" : "them");
  }
}

std::vector<std::string> KeptIndexCheck::changedFields(const orm::IndexCore& index,
                                                       capnp::DynamicStruct::Reader old,
                                                       capnp::DynamicStruct::Reader record) {
  std::string role = "index " + index.schema.name;
  std::vector<std::string> changed;
  for (const orm::FieldPath& path : index.schema.fields) {
    // Compared as encoded keys, as the index holds them: a value whose type changed counts as
    // changed when its key bytes did.
    engine::KeyEncoder before, after;
    try {
      orm::FieldPath oldPath = orm::resolveKeyPath(old.getSchema(), path.dotted, role);
      before.value(orm::keyValueAt(old, oldPath));
    } catch (const Error&) {
      changed.push_back(path.dotted);  // not a key field of the old version
      continue;
    }
    after.value(orm::keyValueAt(record, path));
    if (before.bytes() != after.bytes()) changed.push_back(path.dotted);
  }
  return changed;
}

}  // namespace capdb::migrate
