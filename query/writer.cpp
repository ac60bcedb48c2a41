// INSERT, UPDATE and DELETE, and the rules for storing a SQL value in a field.
#include <cfloat>
#include <cmath>

#include <capnp/any.h>

#include "engine/fail.h"
#include "engine/key_codec.h"
#include "query/eval.h"
#include "query/executor.h"
#include "orm/record_key.h"
#include "orm/table_core.h"

namespace capdb::query {
namespace {

using W = capnp::schema::Type::Which;

[[noreturn]] void doesNotFit(const TableColumns& columns, size_t column, const Value& v) {
  const Column& c = columns[column];
  if (v.isNull()) {
    fail(ErrorCode::InvalidArgument, "{}.{}: NULL does not fit {} (scalar fields cannot be NULL)",
         columns.table(), c.name, c.typeName);
  }
  fail(ErrorCode::InvalidArgument, "{}.{}: {} does not fit {}", columns.table(), c.name, v.toSql(),
       c.typeName);
}

// The integer a value stands for, if it is one exactly.
std::optional<int64_t> exactInteger(const Value& raw) {
  Value v = applyAffinity(raw, Affinity::Numeric);
  if (v.type() == Value::Type::Integer) return v.integer();
  if (v.type() == Value::Type::Real) {
    double d = v.real();
    if (d == std::floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

bool inRange(W w, int64_t i) {
  switch (w) {
    case W::INT8: return i >= INT8_MIN && i <= INT8_MAX;
    case W::INT16: return i >= INT16_MIN && i <= INT16_MAX;
    case W::INT32: return i >= INT32_MIN && i <= INT32_MAX;
    case W::INT64: return true;
    case W::UINT8: return i >= 0 && i <= UINT8_MAX;
    case W::UINT16: return i >= 0 && i <= UINT16_MAX;
    case W::UINT32: return i >= 0 && i <= UINT32_MAX;
    case W::UINT64: return i >= 0;
    default: return false;
  }
}

// The struct holding the column's leaf, made on the way when `create`; nullopt when a struct on
// the way is unset and not to be made.
std::optional<capnp::DynamicStruct::Builder> leafParent(capnp::DynamicStruct::Builder b,
                                                        const orm::FieldPath& path, bool create) {
  for (size_t i = 0; i + 1 < path.steps.size(); ++i) {
    const auto& step = path.steps[i];
    bool inUnion = step.getProto().getDiscriminantValue() != capnp::schema::Field::NO_DISCRIMINANT;
    bool active = true;
    if (inUnion) {
      KJ_IF_MAYBE (w, b.which()) {
        active = *w == step;
      } else {
        active = false;
      }
    }
    if (step.getProto().isGroup()) {
      if (!active && !create) return std::nullopt;
      b = active ? b.get(step).as<capnp::DynamicStruct>() : b.init(step).as<capnp::DynamicStruct>();
    } else {
      if ((!active || !b.has(step)) && !create) return std::nullopt;
      b = (active && b.has(step)) ? b.get(step).as<capnp::DynamicStruct>()
                                  : b.init(step).as<capnp::DynamicStruct>();
    }
  }
  return b;
}

}  // namespace

void setColumn(capnp::DynamicStruct::Builder record, const TableColumns& columns, size_t column,
               const Value& v) {
  const Column& c = columns[column];
  const auto& leaf = c.path.leaf();
  W w = c.path.leafWhich;
  bool pointer = w == W::TEXT || w == W::DATA;
  if (v.isNull()) {
    if (!pointer) doesNotFit(columns, column, v);
    auto parent = leafParent(record, c.path, false);
    if (parent) parent->clear(leaf);
    return;
  }
  auto parent = [&] { return *leafParent(record, c.path, true); };
  // A Bool or a number of the root struct (or of a group in it, not a union member) is stored
  // where it lies in the data section; anything else, or a section too short for the field,
  // through the dynamic API.
  auto setScalar = [&](auto value) {
    if (c.path.direct && c.path.pointerSteps.empty()) {
      bool stored = orm::withScalarType(w, [&](auto type) {
        using T = typename decltype(type)::type;
        if constexpr (std::is_void_v<T>) {
          return false;
        } else {
          return orm::storeScalarAt(capnp::AnyStruct::Builder(record).getDataSection(),
                                    c.path.leafOffset, c.path.leafDefaultBits, static_cast<T>(value));
        }
      });
      if (stored) return;
    }
    parent().set(leaf, value);
  };
  switch (w) {
    case W::TEXT: {
      if (v.type() == Value::Type::Blob) doesNotFit(columns, column, v);
      std::string t = v.toText();
      parent().set(leaf, capnp::Text::Reader(t.c_str(), t.size()));
      return;
    }
    case W::DATA: {
      if (v.type() != Value::Type::Blob && v.type() != Value::Type::Text) doesNotFit(columns, column, v);
      std::string d = v.toText();
      parent().set(leaf, capnp::Data::Reader(reinterpret_cast<const kj::byte*>(d.data()), d.size()));
      return;
    }
    case W::BOOL: {
      auto i = exactInteger(v);
      if (!i || (*i != 0 && *i != 1)) doesNotFit(columns, column, v);
      setScalar(*i == 1);
      return;
    }
    case W::FLOAT32: case W::FLOAT64: {
      Value n = applyAffinity(v, Affinity::Numeric);
      if (n.type() != Value::Type::Integer && n.type() != Value::Type::Real) doesNotFit(columns, column, v);
      double d = n.real();
      if (w == W::FLOAT32) {
        if (std::isfinite(d) && std::fabs(d) > FLT_MAX) doesNotFit(columns, column, v);
        setScalar(static_cast<float>(d));
      } else {
        setScalar(d);
      }
      return;
    }
    case W::ENUM: {
      auto enumerants = c.enumSchema->getEnumerants();
      if (v.type() == Value::Type::Text) {
        for (auto e : enumerants) {
          auto name = e.getProto().getName();
          if (std::string_view(name.begin(), name.size()) == v.text()) {
            parent().set(leaf, capnp::DynamicEnum(e));
            return;
          }
        }
        doesNotFit(columns, column, v);
      }
      auto i = exactInteger(v);
      if (v.type() == Value::Type::Blob || !i || *i < 0 || static_cast<uint64_t>(*i) >= enumerants.size()) {
        doesNotFit(columns, column, v);
      }
      parent().set(leaf, capnp::DynamicEnum(enumerants[static_cast<uint32_t>(*i)]));
      return;
    }
    default: {
      if (v.type() == Value::Type::Blob) doesNotFit(columns, column, v);
      auto i = exactInteger(v);
      if (!i || !inRange(w, *i)) doesNotFit(columns, column, v);
      if (w == W::UINT64 || w == W::UINT32 || w == W::UINT16 || w == W::UINT8) {
        setScalar(static_cast<uint64_t>(*i));
      } else {
        setScalar(*i);
      }
      return;
    }
  }
}

uint64_t runInsert(const Executable& x, WriteTxn& tx, const std::vector<Value>& params) {
  const auto& schema = x.table->schema();
  std::optional<size_t> autoColumn;
  if (schema.autoIncrement) autoColumn = x.columns->find(schema.primaryKey[*schema.autoIncrement].dotted);
  EvalContext ctx;
  ctx.params = &params;
  uint64_t n = 0;
  for (const auto& row : x.bound->insertRows) {
    std::vector<Value> values;
    values.reserve(row.size());
    for (const Expr* e : row) values.push_back(eval(*e, ctx));
    x.table->insert(tx, [&](capnp::DynamicStruct::Builder b) {
      for (size_t i = 0; i < values.size(); ++i) {
        size_t c = x.bound->insertColumns[i];
        // NULL for the autoIncrement key asks for the next value, as in SQLite.
        if (values[i].isNull() && autoColumn == c) continue;
        setColumn(b, *x.columns, c, values[i]);
      }
    });
    ++n;
  }
  return n;
}

uint64_t runUpdate(const Executable& x, WriteTxn& tx, const std::vector<Value>& params) {
  const auto& schema = x.table->schema();
  for (const auto& [c, _] : x.bound->sets) {
    for (const auto& f : schema.primaryKey) {
      CAPDB_REQUIRE(x.columns->find(f.dotted) != c, ErrorCode::InvalidArgument,
                    "UPDATE cannot change {}.{}, a primary-key column (delete the record and "
                    "insert it again)",
                    schema.name, f.dotted);
    }
  }
  // Every new value is computed from the records as they were, before any is written.
  std::vector<std::pair<std::string, std::vector<Value>>> changes;
  EvalContext ctx;
  ctx.params = &params;
  forEachMatch(x, tx, ctx, [&](RowAccess&, std::string_view pk) {
    std::vector<Value> values;
    values.reserve(x.bound->sets.size());
    for (const auto& [c, e] : x.bound->sets) values.push_back(eval(*e, ctx));
    changes.emplace_back(std::string(pk), std::move(values));
    return true;
  });
  // Not a structured binding: C++20 lets lambdas capture those, but clang 14 does not yet.
  for (const auto& change : changes) {
    const std::vector<Value>& values = change.second;
    x.table->update(tx, Key::fromValues(engine::decodeKey(change.first)),
                    [&](capnp::DynamicStruct::Builder b) {
                      for (size_t i = 0; i < values.size(); ++i) {
                        setColumn(b, *x.columns, x.bound->sets[i].first, values[i]);
                      }
                    });
  }
  return changes.size();
}

uint64_t runDelete(const Executable& x, WriteTxn& tx, const std::vector<Value>& params) {
  std::vector<std::string> keys;
  EvalContext ctx;
  ctx.params = &params;
  forEachMatch(x, tx, ctx, [&](RowAccess&, std::string_view pk) {
    keys.emplace_back(pk);
    return true;
  });
  for (const auto& pk : keys) x.table->remove(tx, Key::fromValues(engine::decodeKey(pk)));
  return keys.size();
}

}  // namespace capdb::query
