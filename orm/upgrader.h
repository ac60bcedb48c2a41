// The lazy read path's hook: orm/ reads a record stored at an old schema version through an
// Upgrader, which migrate/ implements from the app's migration steps. orm/ never includes
// migrate/; it only knows this interface.
#pragma once

#include <capnp/any.h>
#include <capnp/dynamic.h>
#include <capnp/message.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace capdb::orm {

class Upgrader {
 public:
  virtual ~Upgrader() = default;

  // The schema records of `version` are read with (the catalog's stored schema of that version,
  // or a later one it is wire-compatible with).
  virtual capnp::StructSchema readSchema(uint32_t version) const = 0;

  // Whether records of `version` go through a step; false when they read as the newest version
  // directly (every change since is wire-compatible), so they never need rewriting.
  virtual bool needsSteps(uint32_t version) const = 0;

  // Whether a step on the way from `version` may set one of `keyFields` (dotted paths): then
  // every upgraded record's key is checked against its stored key.
  virtual bool mayChangeKey(uint32_t version, const std::vector<std::string>& keyFields) const = 0;

  // The steps a record stored at `version` goes through, for messages: "step 1->2", or
  // "steps 1->2, 2->3".
  virtual std::string stepNames(uint32_t version) const = 0;

  // Builds, as the root of `out`, the newest-version record for `old`, a record stored at
  // `version` (read with readSchema(version)) under primary key `pk`, and returns that root (a
  // view of `out`). Throws MigrationFailed naming the table, the key and the step when a step
  // throws or produces an invalid record.
  virtual capnp::AnyStruct::Reader upgrade(uint32_t version, capnp::DynamicStruct::Reader old,
                                           std::string_view pk, capnp::MessageBuilder& out) const = 0;
};

}  // namespace capdb::orm
