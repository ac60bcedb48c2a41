#include "migrate/chain.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

#include "engine/error_context.h"
#include "engine/fail.h"
#include "engine/key_codec.h"
#include "orm/record_codec.h"
#include "orm/record_key.h"
#include "orm/schema_diff.h"
#include "orm/stored_schema.h"
#include "orm/table_schema.h"

namespace capdb {

Migrations& Migrations::step(std::string table, uint32_t from, uint32_t to, StepFn fn,
                             StepOptions options) {
  CAPDB_REQUIRE(from < to, ErrorCode::InvalidArgument,
                "migration step of {} from {} to {}: `from` must be below `to`", table, from, to);
  CAPDB_REQUIRE(fn != nullptr, ErrorCode::InvalidArgument,
                "migration step of {} from {} to {} has no function", table, from, to);
  auto& byFrom = steps_[table];
  CAPDB_REQUIRE(!byFrom.count(from), ErrorCode::InvalidArgument,
                "table {} has two migration steps from version {}", table, from);
  byFrom.emplace(from, Step{table, from, to, std::move(fn), std::move(options)});
  return *this;
}

Migrations& Migrations::step(std::string table, uint32_t from, uint32_t to, StepFn fn) {
  return step(std::move(table), from, to, std::move(fn), StepOptions{});
}

const std::map<uint32_t, Migrations::Step>* Migrations::stepsOf(const std::string& table) const {
  auto it = steps_.find(table);
  if (it != steps_.end()) return &it->second;
  // Table names match ignoring ASCII case, as in SQL (a MIGRATE step may spell it either way).
  auto lower = [](std::string s) {
    for (char& c : s) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    return s;
  };
  for (const auto& [name, steps] : steps_) {
    if (lower(name) == lower(table)) return &steps;
  }
  return nullptr;
}

namespace migrate {

namespace {

// Pairs of structs being compared, outermost first: a recursive type is taken to carry over
// while its own comparison is in progress.
using InProgress = std::vector<std::pair<uint64_t, uint64_t>>;

bool carriesOver(capnp::Type a, capnp::Type b, InProgress& inProgress);
bool layoutCarriesOver(capnp::StructSchema from, capnp::StructSchema to, InProgress& inProgress);
bool sameDefault(capnp::StructSchema::Field a, capnp::StructSchema::Field b);
void writeOldDefault(capnp::AnyPointer::Builder to, capnp::StructSchema::Field oldField);

bool carriesOver(capnp::Type a, capnp::Type b, InProgress& inProgress) {
  if (a.which() != b.which()) return false;
  if (a.isList()) {
    return carriesOver(a.asList().getElementType(), b.asList().getElementType(), inProgress);
  }
  // A struct value is copied as it lies, so its layout must carry over (fields only added or
  // renamed, defaults unchanged), whatever the struct is called.
  if (a.isStruct()) return layoutCarriesOver(a.asStruct(), b.asStruct(), inProgress);
  if (a.isEnum()) return a.asEnum().getProto().getId() == b.asEnum().getProto().getId();
  return !a.isInterface();
}

// Whether a field of type `a` can be copied as it lies into a field of type `b`.
bool carriesOver(capnp::Type a, capnp::Type b) {
  InProgress inProgress;
  return carriesOver(a, b, inProgress);
}

// A slot field of the old record, found by ordinal through its groups.
struct OldSlot {
  std::vector<capnp::StructSchema::Field> groups;  // the groups to descend, outermost first
  capnp::StructSchema::Field field;
};

void indexSlots(capnp::StructSchema s, std::vector<capnp::StructSchema::Field>& groups,
                std::map<uint16_t, OldSlot>& out) {
  for (auto f : s.getFields()) {
    if (f.getProto().isGroup()) {
      groups.push_back(f);
      indexSlots(f.getType().asStruct(), groups, out);
      groups.pop_back();
    } else {
      out.emplace(f.getProto().getOrdinal().getExplicit(), OldSlot{groups, f});
    }
  }
}

bool active(capnp::DynamicStruct::Reader s, capnp::StructSchema::Field f) {
  if (f.getProto().getDiscriminantValue() == capnp::schema::Field::NO_DISCRIMINANT) return true;
  KJ_IF_MAYBE (which, s.which()) {
    return *which == f;
  }
  return false;
}

void fill(const std::map<uint16_t, OldSlot>& old, capnp::DynamicStruct::Reader oldRoot,
          capnp::DynamicStruct::Builder next) {
  for (auto f : next.getSchema().getFields()) {
    auto proto = f.getProto();
    if (proto.isGroup()) {
      if (proto.getDiscriminantValue() == capnp::schema::Field::NO_DISCRIMINANT) {
        fill(old, oldRoot, next.get(f).as<capnp::DynamicStruct>());
        continue;
      }
      // A group that is a union member: enter it only if the old record has one of its fields
      // present (then it is the member to make active).
      bool present = false;
      for (auto inner : f.getType().asStruct().getFields()) {
        if (inner.getProto().isGroup()) continue;
        auto it = old.find(inner.getProto().getOrdinal().getExplicit());
        if (it == old.end()) continue;
        capnp::DynamicStruct::Reader s = oldRoot;
        bool ok = true;
        for (auto g : it->second.groups) {
          if (!active(s, g)) {
            ok = false;
            break;
          }
          s = s.get(g).as<capnp::DynamicStruct>();
        }
        if (ok && active(s, it->second.field)) present = true;
      }
      if (present) fill(old, oldRoot, next.init(f).as<capnp::DynamicStruct>());
      continue;
    }
    auto it = old.find(proto.getOrdinal().getExplicit());
    if (it == old.end() || !carriesOver(it->second.field.getType(), f.getType())) continue;
    capnp::DynamicStruct::Reader s = oldRoot;
    bool present = true;
    for (auto g : it->second.groups) {
      if (!active(s, g)) {
        present = false;
        break;
      }
      s = s.get(g).as<capnp::DynamicStruct>();
    }
    if (!present || !active(s, it->second.field)) continue;
    if (f.getType().isVoid()) {
      if (proto.getDiscriminantValue() != capnp::schema::Field::NO_DISCRIMINANT) next.set(f, capnp::VOID);
      continue;
    }
    capnp::Type type = f.getType();
    if (type.isStruct() || type.isList() || type.isText() || type.isData() || type.isAnyPointer()) {
      // An active union member stays active even when its pointer is null.
      if (proto.getDiscriminantValue() != capnp::schema::Field::NO_DISCRIMINANT) next.clear(f);
      auto to = capnp::AnyStruct::Builder(next).getPointerSection()[proto.getSlot().getOffset()];
      if (!s.has(it->second.field)) {
        if (!sameDefault(it->second.field, f)) writeOldDefault(to, it->second.field);
        continue;
      }
      // Copied as a pointer: the two versions' struct, list and enum types are the same types
      // from different schema loaders, which DynamicStruct::Builder::set refuses to mix.
      to.set(capnp::AnyStruct::Reader(s).getPointerSection()[it->second.field.getProto().getSlot().getOffset()]);
      continue;
    }
    // An unset scalar reads as its default in both versions: the value is copied anyway, so
    // that a changed default does not change the record.
    capnp::DynamicValue::Reader value = s.get(it->second.field);
    if (type.isEnum()) {
      next.set(f, capnp::DynamicEnum(type.asEnum(), value.as<capnp::DynamicEnum>().getRaw()));
    } else {
      next.set(f, value);
    }
  }
}

struct Slot {
  std::vector<capnp::StructSchema::Field> groups;
  capnp::StructSchema::Field field;
};

void flattenSlots(capnp::StructSchema s, std::vector<capnp::StructSchema::Field>& groups,
                  std::vector<Slot>& out) {
  for (auto f : s.getFields()) {
    if (f.getProto().isGroup()) {
      groups.push_back(f);
      flattenSlots(f.getType().asStruct(), groups, out);
      groups.pop_back();
    } else {
      out.push_back(Slot{groups, f});
    }
  }
}

uint32_t discriminantOffset(capnp::StructSchema s) {
  return s.getProto().getStruct().getDiscriminantOffset();
}

// The struct or group that holds a slot: its union's tag lives there.
capnp::StructSchema container(capnp::StructSchema root, const Slot& s) {
  return s.groups.empty() ? root : s.groups.back().getType().asStruct();
}

bool sameDefault(capnp::StructSchema::Field a, capnp::StructSchema::Field b) {
  kj::Array<capnp::word> wa = capnp::canonicalize(a.getProto().getSlot().getDefaultValue());
  kj::Array<capnp::word> wb = capnp::canonicalize(b.getProto().getSlot().getDefaultValue());
  return wa.size() == wb.size() &&
         std::memcmp(wa.begin(), wb.begin(), wa.size() * sizeof(capnp::word)) == 0;
}

// Writes `oldField`'s default value into `to`, for an unset pointer whose default changed.
// Nothing is written for a default that is itself null: such a field then reads as the new
// default, as an unset pointer must.
void writeOldDefault(capnp::AnyPointer::Builder to, capnp::StructSchema::Field oldField) {
  using V = capnp::schema::Value;
  auto v = oldField.getProto().getSlot().getDefaultValue();
  switch (v.which()) {
    case V::TEXT: if (v.hasText()) to.setAs<capnp::Text>(v.getText()); break;
    case V::DATA: if (v.hasData()) to.setAs<capnp::Data>(v.getData()); break;
    case V::LIST: if (!v.getList().isNull()) to.set(v.getList()); break;
    case V::STRUCT: if (!v.getStruct().isNull()) to.set(v.getStruct()); break;
    case V::ANY_POINTER: if (!v.getAnyPointer().isNull()) to.set(v.getAnyPointer()); break;
    default: break;
  }
}

// Whether every field of `from` lies in `to` exactly as before: same ordinal, type, place,
// default and union tag. Then a `from` struct's sections are a valid `to` struct as they are:
// new fields lie past them (zero), and nothing is left to clear.
bool layoutCarriesOver(capnp::StructSchema from, capnp::StructSchema to, InProgress& inProgress) {
  std::pair<uint64_t, uint64_t> ids{from.getProto().getId(), to.getProto().getId()};
  if (std::find(inProgress.begin(), inProgress.end(), ids) != inProgress.end()) return true;
  inProgress.push_back(ids);
  struct Pop {
    InProgress& p;
    ~Pop() { p.pop_back(); }
  } pop{inProgress};
  std::vector<Slot> oldSlots, newSlots;
  std::vector<capnp::StructSchema::Field> groups;
  flattenSlots(from, groups, oldSlots);
  flattenSlots(to, groups, newSlots);
  std::map<uint16_t, const Slot*> byOrdinal;
  for (const auto& n : newSlots) byOrdinal[n.field.getProto().getOrdinal().getExplicit()] = &n;
  if (discriminantOffset(from) != discriminantOffset(to)) return false;
  for (const auto& o : oldSlots) {
    auto op = o.field.getProto();
    auto it = byOrdinal.find(op.getOrdinal().getExplicit());
    if (it == byOrdinal.end()) return false;  // removed
    const Slot& n = *it->second;
    auto np = n.field.getProto();
    bool same = carriesOver(o.field.getType(), n.field.getType(), inProgress) &&
                np.getSlot().getOffset() == op.getSlot().getOffset() &&
                np.getDiscriminantValue() == op.getDiscriminantValue() &&
                o.groups.size() == n.groups.size() && sameDefault(o.field, n.field) &&
                (op.getDiscriminantValue() == capnp::schema::Field::NO_DISCRIMINANT ||
                 discriminantOffset(container(from, o)) == discriminantOffset(container(to, n)));
    if (!same) return false;
  }
  return true;
}

// Whether a struct's fields all lie in its own sections: no groups, no unions.
bool flat(capnp::StructSchema s) {
  if (s.getProto().getStruct().getDiscriminantCount() != 0) return false;
  for (auto f : s.getFields()) {
    if (f.getProto().isGroup()) return false;
  }
  return true;
}

// A scalar's size in bytes, 0 for Bool (bits), Void and pointers.
uint8_t scalarBytes(capnp::schema::Type::Which w) {
  return orm::withScalarType(w, [](auto type) -> uint8_t {
    using T = typename decltype(type)::type;
    if constexpr (std::is_void_v<T> || std::is_same_v<T, bool>) {
      return 0;
    } else {
      return sizeof(T);
    }
  });
}

// Plans the field-by-field copy of two flat structs: what `fill` does through the dynamic API,
// as offsets computed once.
void planCopies(capnp::StructSchema from, capnp::StructSchema to, PrefillPlan& plan) {
  using W = capnp::schema::Type::Which;
  std::map<uint16_t, capnp::StructSchema::Field> old;
  for (auto f : from.getFields()) old.emplace(f.getProto().getOrdinal().getExplicit(), f);
  for (auto n : to.getFields()) {
    auto it = old.find(n.getProto().getOrdinal().getExplicit());
    if (it == old.end() || !carriesOver(it->second.getType(), n.getType())) continue;
    auto os = it->second.getProto().getSlot();
    auto ns = n.getProto().getSlot();
    W w = n.getType().which();
    if (w == W::VOID) continue;
    if (w == W::BOOL) {
      plan.bits.push_back({os.getOffset(), ns.getOffset(),
                           os.getDefaultValue().getBool() != ns.getDefaultValue().getBool()});
    } else if (uint8_t bytes = scalarBytes(w)) {
      uint64_t flip = *orm::scalarDefaultBits(os.getDefaultValue()) ^
                      *orm::scalarDefaultBits(ns.getDefaultValue());
      plan.data.push_back({os.getOffset() * bytes, ns.getOffset() * bytes, bytes, flip});
    } else {
      PrefillPlan::PointerCopy copy{static_cast<uint16_t>(os.getOffset()),
                                    static_cast<uint16_t>(ns.getOffset()), std::nullopt};
      if (!sameDefault(it->second, n)) copy.oldDefault = it->second;
      plan.pointers.push_back(copy);
    }
  }
  plan.planned = true;
}

}  // namespace

PrefillPlan planPrefill(capnp::StructSchema from, capnp::StructSchema to) {
  // The raw copy is exact only when the layout carries over. Anything else (a field that changed
  // type, moved, was removed, or changed its default) is copied field by field, so that no old
  // bits leak into another field.
  PrefillPlan plan;
  InProgress inProgress;
  plan.raw = layoutCarriesOver(from, to, inProgress);
  if (!plan.raw && flat(from) && flat(to)) planCopies(from, to, plan);
  return plan;
}

void applyPrefill(const PrefillPlan& plan, capnp::DynamicStruct::Reader old,
                  capnp::DynamicStruct::Builder next) {
  capnp::AnyStruct::Reader from(old);
  capnp::AnyStruct::Builder to(next);
  auto src = from.getDataSection();
  auto dst = to.getDataSection();
  // Little-endian, as Cap'n Proto lays data out; bits past a shorter (older) struct read as 0,
  // which is the old default.
  for (const auto& c : plan.data) {
    uint64_t bits = 0;
    if (c.from + c.bytes <= src.size()) {
      for (unsigned i = 0; i < c.bytes; ++i) bits |= uint64_t{src[c.from + i]} << (8 * i);
    }
    bits ^= c.flip;
    for (unsigned i = 0; i < c.bytes; ++i) dst[c.to + i] = static_cast<kj::byte>(bits >> (8 * i));
  }
  for (const auto& c : plan.bits) {
    bool bit = c.from / 8 < src.size() && ((src[c.from / 8] >> (c.from % 8)) & 1);
    if (bit != c.flip) dst[c.to / 8] |= static_cast<kj::byte>(1u << (c.to % 8));
  }
  auto srcPointers = from.getPointerSection();
  auto dstPointers = to.getPointerSection();
  for (const auto& c : plan.pointers) {
    if (c.from < srcPointers.size() && !srcPointers[c.from].isNull()) {
      dstPointers[c.to].set(srcPointers[c.from]);
    } else if (c.oldDefault) {
      writeOldDefault(dstPointers[c.to], *c.oldDefault);
    }
  }
}

void prefill(capnp::DynamicStruct::Reader old, capnp::DynamicStruct::Builder next) {
  std::map<uint16_t, OldSlot> slots;
  std::vector<capnp::StructSchema::Field> groups;
  indexSlots(old.getSchema(), groups, slots);
  fill(slots, old, next);
}

std::shared_ptr<const orm::Upgrader> planUpgrade(const Migrations& registry,
                                                 const orm::TableSchema& app,
                                                 const SchemaLookup& stored,
                                                 const std::set<uint32_t>& versions,
                                                 std::vector<const Migrations::Step*>* used) {
  auto chain = std::make_shared<TableChain>(app, registry.stepsOf(app.name), stored, versions);
  if (used) *used = chain->steps();
  return chain;
}

TableChain::TableChain(const orm::TableSchema& app,
                       const std::map<uint32_t, Migrations::Step>* steps,
                       const SchemaLookup& stored, const std::set<uint32_t>& versions)
    : table_(app.name), newest_(app.schema) {
  ErrorContext scope(app.name);
  // The schema of a version: the app's newest, a step's declared target, or the catalog's copy.
  auto schemaOf = [&](uint32_t v) -> std::optional<capnp::StructSchema> {
    if (v == app.version) return app.schema;
    if (steps) {
      for (const auto& [from, s] : *steps) {
        if (s.to == v && s.options.target) return *s.options.target;
      }
    }
    if (auto schema = stored(v)) {
      owners_.push_back(schema->owner());
      return schema->root();
    }
    return std::nullopt;
  };
  auto tableOf = [&](uint32_t v, capnp::StructSchema s) {
    orm::TableSchema t = orm::requireTable(s);
    t.version = v;
    return t;
  };

  for (uint32_t start : versions) {
    auto startSchema = schemaOf(start);
    CAPDB_REQUIRE_IN(startSchema.has_value(), ErrorCode::Corruption,
                  "records are stored at version {}, whose schema the catalog lacks", start);
    Chain chain{*startSchema, {}};
    uint32_t cur = start;
    capnp::StructSchema curSchema = *startSchema;
    while (cur < app.version) {
      const Migrations::Step* step = nullptr;
      if (steps) {
        if (auto it = steps->find(cur); it != steps->end()) step = &it->second;
      }
      if (step != nullptr) {
        CAPDB_REQUIRE_IN(step->to <= app.version, ErrorCode::SchemaMismatch,
                      "the step from version {} goes to version {}, past the app's "
                      "version {}", step->from, step->to, app.version);
        auto target = schemaOf(step->to);
        CAPDB_REQUIRE_IN(target.has_value(), ErrorCode::InvalidArgument,
                      "the step from version {} to {} needs StepOptions::target, the "
                      "schema of version {}", step->from, step->to, step->to);
        if (step->options.check) step->options.check(curSchema, *target);
        chain.links.push_back(Link{step, orm::StructLayout(*target), planPrefill(curSchema, *target),
                                   namesOf(curSchema), namesOf(*target)});
        if (std::find(usedSteps_.begin(), usedSteps_.end(), step) == usedSteps_.end()) {
          usedSteps_.push_back(step);
        }
        cur = step->to;
        curSchema = *target;
        continue;
      }
      // No step from here: the bytes must read correctly as the next version that has a schema.
      uint32_t next = app.version;
      if (steps) {
        for (const auto& [from, s] : *steps) {
          if (from > cur && from < next) next = from;
        }
      }
      auto nextSchema = schemaOf(next);
      CAPDB_REQUIRE_IN(nextSchema.has_value(), ErrorCode::SchemaMismatch,
                    "no migration step from version {}, and the schema of version {} "
                    "is unknown", cur, next);
      orm::SchemaDiff diff = orm::diffTables(tableOf(cur, curSchema), tableOf(next, *nextSchema));
      if (!diff.readsAcross()) {
        orm::SchemaDiff bad;
        for (const auto& c : diff.changes) {
          if (!c.wireCompatible && c.kind != orm::ChangeKind::PrimaryKeyChanged) {
            bad.changes.push_back(c);
          }
        }
        failIn(ErrorCode::SchemaMismatch,
             "from version {} to {} the schema changes in ways old records cannot be "
             "read across, and no migration step covers it; register one with "
             "Migrations::step(\"{}\", {}, {}, ...):\n{}", cur, next, app.name, cur, next, bad.describe(app.name));
      }
      if (chain.links.empty()) chain.read = *nextSchema;  // read the bytes as `next` directly
      else chain.links.push_back(Link{nullptr, orm::StructLayout(*nextSchema), {}});
      cur = next;
      curSchema = *nextSchema;
    }
    chains_.emplace(start, std::move(chain));
  }
}

capnp::StructSchema TableChain::readSchema(uint32_t version) const {
  ErrorContext scope(table_);
  auto it = chains_.find(version);
  CAPDB_REQUIRE_IN(it != chains_.end(), ErrorCode::Corruption,
                "a record is stored at version {}, which no migration plan covers", version);
  return it->second.read;
}

bool TableChain::mayChangeKey(uint32_t version, const std::vector<std::string>& keyFields) const {
  auto it = chains_.find(version);
  if (it == chains_.end()) return true;
  for (const auto& link : it->second.links) {
    if (link.step == nullptr) continue;
    if (!link.prefill.raw) return true;  // a key field may not carry over
    const auto& writes = link.step->options.writes;
    if (writes.empty()) return true;
    for (const auto& w : writes) {
      for (const auto& k : keyFields) {
        if (orm::pathsOverlap(k, w)) return true;
      }
    }
  }
  return false;
}

std::string TableChain::stepNames(uint32_t version) const {
  std::string names;
  size_t n = 0;
  if (auto it = chains_.find(version); it != chains_.end()) {
    for (const auto& link : it->second.links) {
      if (link.step == nullptr) continue;
      names += fmt::format("{}{}->{}", n++ == 0 ? "" : ", ", link.step->from, link.step->to);
    }
  }
  if (n == 0) return fmt::format("the migration from version {}", version);
  return (n == 1 ? "step " : "steps ") + names;
}

const FieldNames* TableChain::namesOf(capnp::StructSchema schema) {
  for (const auto& n : names_) {
    if (n->schema() == schema) return n.get();
  }
  return names_.emplace_back(std::make_unique<FieldNames>(schema)).get();
}

bool TableChain::needsSteps(uint32_t version) const {
  auto it = chains_.find(version);
  return it == chains_.end() || !it->second.links.empty();
}

capnp::AnyStruct::Reader TableChain::upgrade(uint32_t version, capnp::DynamicStruct::Reader old,
                                             std::string_view pk, capnp::MessageBuilder& out) const {
  ErrorContext scope(table_, pk);
  const Chain& chain = chains_.at(version);
  // Intermediate records stay in memory: each step reads the previous one's builder directly.
  std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> temps;
  capnp::MessageBuilder* current = nullptr;
  capnp::DynamicStruct::Reader record = old;
  for (size_t i = 0; i < chain.links.size(); ++i) {
    const Link& link = chain.links[i];
    if (link.step == nullptr) {
      record = orm::readRootAs(*current, link.layout.schema);
      continue;
    }
    capnp::MessageBuilder* target = &out;
    if (i + 1 < chain.links.size()) {
      temps.push_back(std::make_unique<capnp::MallocMessageBuilder>());
      target = temps.back().get();
    }
    const Migrations::Step& step = *link.step;
    std::string failure;
    try {
      capnp::DynamicStruct::Builder next = [&] {
        if (!link.prefill.raw) {
          auto b = orm::initRoot(*target, link.layout);
          if (link.prefill.planned) applyPrefill(link.prefill, record, b);
          else prefill(record, b);
          return b;
        }
        return orm::setRootAs(*target, record, link.layout);  // the old sections as they are
      }();
      step.fn(StepRecord(record, link.fromNames), StepBuilder(next, link.toNames));
      record = next.asReader();
    } catch (const Error& e) {
      failure = e.what();
    } catch (const kj::Exception& e) {
      failure = e.getDescription().cStr();
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!failure.empty()) {
      failIn(ErrorCode::MigrationFailed, "the step from version {} to {} failed: {}", step.from, step.to, failure);
    }
    current = target;
  }
  if (current != &out) {  // the chain ended in a reinterpretation
    out.setRoot(record);
    return out.getRoot<capnp::AnyStruct>().asReader();
  }
  return capnp::AnyStruct::Reader(record);  // the last step's builder, the root of `out`
}

}  // namespace migrate
}  // namespace capdb
