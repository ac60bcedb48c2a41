#include "migrate/kept_index_check.h"

#include <capnp/any.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstring>
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

namespace {

using W = capnp::schema::Type::Which;

// Whether a number or Bool of each root struct (or of a group in it, not a union member) holds
// the same bits in `old` at `was` as in `record` at `is`, read where they lie; nullopt when
// either is not such a field or their types differ. The same bits encode the same key; different
// bits may too (0.0 and -0.0), which the caller's lookup then settles.
std::optional<bool> sameScalar(const orm::FieldPath& was, capnp::DynamicStruct::Reader old,
                               const orm::FieldPath& is, capnp::DynamicStruct::Reader record) {
  auto direct = [](const orm::FieldPath& p) {
    return p.direct && p.pointerSteps.empty() && p.leafWhich != W::TEXT && p.leafWhich != W::DATA &&
           p.leafWhich != W::VOID;
  };
  if (!direct(was) || !direct(is) || was.leafWhich != is.leafWhich) return std::nullopt;
  auto a = capnp::AnyStruct::Reader(old).getDataSection();
  auto b = capnp::AnyStruct::Reader(record).getDataSection();
  return orm::withScalarType(is.leafWhich, [&](auto type) {
    using T = typename decltype(type)::type;
    if constexpr (std::is_void_v<T>) {
      return false;
    } else {
      T x = orm::scalarAt<T>(a, was.leafOffset, was.leafDefaultBits);
      T y = orm::scalarAt<T>(b, is.leafOffset, is.leafDefaultBits);
      return std::memcmp(&x, &y, sizeof(T)) == 0;
    }
  });
}

}  // namespace

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
      const orm::FieldPath& was = (*it->paths)[f];
      const orm::FieldPath& is = index.schema.fields[f];
      if (auto same = sameScalar(was, old, is, record)) {
        if (!*same) return false;
        continue;
      }
      before.value(orm::keyValueAt(old, was));
      after.value(orm::keyValueAt(record, is));
    }
  } catch (const Error&) {
    return false;  // the lookup decides
  } catch (const kj::Exception&) {
    return false;
  }
  return before.bytes() == after.bytes();
}

bool KeptIndexCheck::needsLookup(capnp::DynamicStruct::Reader old,
                                 capnp::DynamicStruct::Reader record) {
  for (size_t i = 0; i < kept_.size(); ++i) {
    if (!sameKey(i, old, record)) return true;
  }
  return false;
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
