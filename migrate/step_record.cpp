// FieldNames, StepRecord and StepBuilder (include/capdb/migrations.h): a step's by-name field
// access with each name resolved once per schema.
#include <algorithm>
#include <string>

#include "capdb/migrations.h"
#include "engine/fail.h"

namespace capdb {
namespace {

std::string_view text(capnp::Text::Reader t) { return {t.begin(), t.size()}; }

[[noreturn]] void noField(capnp::StructSchema schema, std::string_view name) {
  fail(ErrorCode::InvalidArgument, "{} has no field named '{}'",
       text(schema.getProto().getDisplayName()), name);
}

// Without a FieldNames: Cap'n Proto's own lookup, with capdb's error.
capnp::StructSchema::Field lookUp(capnp::StructSchema schema, std::string_view name) {
  KJ_IF_MAYBE (field, schema.findFieldByName(std::string(name))) {
    return *field;
  }
  noField(schema, name);
}

}  // namespace

FieldNames::FieldNames(capnp::StructSchema schema) : schema_(schema) {
  for (auto field : schema.getFields()) {
    byName_.emplace_back(std::string(text(field.getProto().getName())), field);
  }
  std::sort(byName_.begin(), byName_.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
}

capnp::StructSchema::Field FieldNames::find(std::string_view name) const {
  auto it = std::lower_bound(byName_.begin(), byName_.end(), name,
                             [](const auto& entry, std::string_view n) { return entry.first < n; });
  if (it == byName_.end() || it->first != name) noField(schema_, name);
  return it->second;
}

capnp::StructSchema::Field StepRecord::find(std::string_view name) const {
  return names_ ? names_->find(name) : lookUp(record_.getSchema(), name);
}

capnp::StructSchema::Field StepBuilder::find(std::string_view name) const {
  return names_ ? names_->find(name) : lookUp(record_.getSchema(), name);
}

}  // namespace capdb
