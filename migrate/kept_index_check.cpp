#include "migrate/kept_index_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <kj/exception.h>

#include <algorithm>
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

bool KeptIndexCheck::sameKey(size_t i, capnp::DynamicStruct::Reader old,
                             capnp::DynamicStruct::Reader record) {
  const orm::IndexCore& index = *kept_[i];
  capnp::StructSchema schema = old.getSchema();
  auto it = std::find_if(oldPaths_.begin(), oldPaths_.end(),
                         [&](const OldPaths& p) { return p.index == i && p.schema == schema; });
  if (it == oldPaths_.end()) {
    OldPaths p{i, schema, std::nullopt};
    try {
      std::vector<orm::FieldPath> paths;
      for (const orm::FieldPath& path : index.schema.fields) {
        paths.push_back(orm::resolveKeyPath(schema, path.dotted, "index " + index.schema.name));
      }
      p.paths = std::move(paths);
    } catch (const Error&) {
      // A field the old version lacks, or not a key field there.
    }
    oldPaths_.push_back(std::move(p));
    it = oldPaths_.end() - 1;
  }
  if (!it->paths) return false;
  engine::KeyEncoder before, after;
  try {
    for (size_t f = 0; f < index.schema.fields.size(); ++f) {
      before.value(orm::keyValueAt(old, (*it->paths)[f]));
      after.value(orm::keyValueAt(record, index.schema.fields[f]));
    }
  } catch (const Error&) {
    return false;  // the lookup decides
  } catch (const kj::Exception&) {
    return false;
  }
  return before.bytes() == after.bytes();
}

void KeptIndexCheck::check(const engine::Txn& txn, capnp::DynamicStruct::Reader oldRecord,
                           capnp::DynamicStruct::Reader record, std::string_view pk,
                           std::string_view stored) {
  for (size_t i = 0; i < kept_.size(); ++i) {
    const orm::IndexCore* index = kept_[i];
    if (sameKey(i, oldRecord, record)) continue;
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
