#include "query/key_ranges.h"

#include <algorithm>
#include <cmath>

#include "engine/key_codec.h"
#include "orm/table_core.h"

namespace capdb::query {
namespace {

// Whether comparing the column with `e` may convert the column's value (so that a key range
// built from `e` is only approximate): `e` has an affinity, and not the column's own.
bool convertsColumn(const Expr& e, const Column& col) {
  return e.affinity != Affinity::None && e.affinity != col.affinity;
}


using W = capnp::schema::Type::Which;

enum class BoundKind : uint8_t { Unbounded, Empty, At };
struct KeyBound {
  BoundKind kind = BoundKind::Unbounded;
  engine::KeyValue value;
  bool inclusive = true;
};

KeyBound at(engine::KeyValue v, bool inclusive) { return {BoundKind::At, std::move(v), inclusive}; }
KeyBound empty() { return {BoundKind::Empty, {}, true}; }
KeyBound unbounded() { return {}; }

bool isIntegerColumn(W w) {
  switch (w) {
    case W::INT8: case W::INT16: case W::INT32: case W::INT64:
    case W::UINT8: case W::UINT16: case W::UINT32: case W::UINT64:
      return true;
    default: return false;
  }
}

constexpr double kTwo63 = 9223372036854775808.0;

// The key a value equal to `v` would have in this column; nullopt when no stored value can
// equal it.
std::optional<engine::KeyValue> pointKey(const Column& c, const Value& raw, bool& exact) {
  if (raw.isNull()) return std::nullopt;
  W w = c.path.leafWhich;
  if (w == W::TEXT || w == W::ENUM) {
    Value v = applyAffinity(raw, Affinity::Text);
    if (v.type() != Value::Type::Text) return std::nullopt;
    if (w == W::TEXT) return engine::KeyValue(v.text());
    auto enumerants = c.enumSchema->getEnumerants();
    for (auto e : enumerants) {
      auto name = e.getProto().getName();
      if (std::string_view(name.begin(), name.size()) == v.text()) {
        return engine::KeyValue(uint64_t{e.getOrdinal()});
      }
    }
    return std::nullopt;
  }
  if (w == W::DATA) {
    if (raw.type() != Value::Type::Blob) return std::nullopt;
    return engine::KeyValue(engine::KeyBytes{raw.blob()});
  }
  Value v = applyAffinity(raw, Affinity::Numeric);
  if (v.type() != Value::Type::Integer && v.type() != Value::Type::Real) return std::nullopt;
  if (w == W::BOOL) {
    double d = v.real();
    if (d == 0) return engine::KeyValue(false);
    if (d == 1) return engine::KeyValue(true);
    return std::nullopt;
  }
  if (isIntegerColumn(w)) {
    if (v.type() == Value::Type::Integer) return engine::KeyValue(v.integer());
    double d = v.real();
    if (std::isnan(d) || d != std::floor(d) || d >= kTwo63 || d < -kTwo63) return std::nullopt;
    return engine::KeyValue(static_cast<int64_t>(d));
  }
  if (v.type() == Value::Type::Integer && std::abs(v.integer()) >= (int64_t{1} << 53)) exact = false;
  double d = v.real();
  if (std::isnan(d)) return std::nullopt;
  return engine::KeyValue(d);
}

// A bound on the column from `column > v` (lower) or `column < v` (upper), inclusive or not.
KeyBound boundKey(const Column& c, const Value& raw, bool inclusive, bool lower, bool& exact) {
  if (raw.isNull()) return empty();
  W w = c.path.leafWhich;
  if (w == W::TEXT) {
    Value v = applyAffinity(raw, Affinity::Text);
    if (v.type() == Value::Type::Text) return at(v.text(), inclusive);
    // Only a BLOB is left: every text sorts below it.
    return lower ? empty() : unbounded();
  }
  if (w == W::DATA) {
    if (raw.type() == Value::Type::Blob) return at(engine::KeyBytes{raw.blob()}, inclusive);
    // Numbers and text sort below every blob.
    return lower ? unbounded() : empty();
  }
  Value v = applyAffinity(raw, Affinity::Numeric);
  if (v.type() == Value::Type::Text || v.type() == Value::Type::Blob) {
    // Text and blobs sort above every number.
    return lower ? empty() : unbounded();
  }
  if (isIntegerColumn(w)) {
    if (v.type() == Value::Type::Integer) return at(v.integer(), inclusive);
    double d = v.real();
    if (std::isnan(d)) return empty();
    if (lower) {
      if (d >= kTwo63) return empty();
      if (d < -kTwo63) return unbounded();
      double up = std::ceil(d);
      return at(static_cast<int64_t>(up), up == d ? inclusive : true);
    }
    if (d < -kTwo63) return empty();
    if (d >= kTwo63) return unbounded();
    double down = std::floor(d);
    return at(static_cast<int64_t>(down), down == d ? inclusive : true);
  }
  // Float columns. A large integer may not be exact as a double: widen to inclusive.
  if (v.type() == Value::Type::Integer) {
    int64_t i = v.integer();
    double d = static_cast<double>(i);
    if (std::fabs(d) >= 9007199254740992.0) {
      exact = false;
      return at(d, true);
    }
    return at(d, inclusive);
  }
  double d = v.real();
  if (std::isnan(d)) return empty();
  return at(d, inclusive);
}

// One value's key bytes.
std::string encodeOne(const engine::KeyValue& value) {
  engine::KeyEncoder e;
  e.value(value);
  return e.bytes();
}

std::string asciiCase(std::string_view s, bool upper) {
  std::string out(s);
  for (char& c : out) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Keys whose value at this position is text starting with `pattern`'s literal prefix in any
// ASCII case: from the all-upper-case prefix to past the all-lower-case one, after the encoded
// equality values `base`. LIKE rechecks.
std::optional<engine::KeyRange> likeRange(const std::string& base, const Value& pattern) {
  if (pattern.isNull()) return std::nullopt;
  std::string p = pattern.toText();
  size_t wild = p.find_first_of("%_");
  std::string literal = p.substr(0, wild);
  engine::KeyRange r;
  if (literal.empty()) {
    // Any non-NULL text.
    r.lower = engine::Bound{engine::prefixSuccessor(base + '\0'), true};
    if (!base.empty()) r.upper = engine::Bound{engine::prefixSuccessor(base), false};
    if (r.upper && r.upper->key.empty()) r.upper.reset();
    return r;
  }
  engine::KeyEncoder lo;
  lo.raw(base).text(asciiCase(literal, true));
  r.lower = engine::Bound{lo.bytes(), true};
  engine::KeyEncoder hi;
  hi.raw(base).text(asciiCase(literal, false));
  std::string hiBytes = hi.bytes();
  hiBytes.resize(hiBytes.size() - 2);  // drop the terminator: a prefix of every longer text
  std::string succ = engine::prefixSuccessor(hiBytes);
  if (!succ.empty()) r.upper = engine::Bound{std::move(succ), false};
  return r;
}

bool lowerBefore(const engine::KeyRange& a, const engine::KeyRange& b) {
  if (!a.lower) return b.lower.has_value();
  if (!b.lower) return false;
  if (a.lower->key != b.lower->key) return a.lower->key < b.lower->key;
  return a.lower->inclusive && !b.lower->inclusive;
}

bool isEmptyRange(const engine::KeyRange& r) {
  if (!r.lower || !r.upper) return false;
  if (r.lower->key != r.upper->key) return r.lower->key > r.upper->key;
  return !(r.lower->inclusive && r.upper->inclusive);
}

std::vector<engine::KeyRange> merge(std::vector<engine::KeyRange> ranges) {
  std::erase_if(ranges, isEmptyRange);
  std::sort(ranges.begin(), ranges.end(), lowerBefore);
  std::vector<engine::KeyRange> out;
  for (auto& r : ranges) {
    if (!out.empty()) {
      auto& cur = out.back();
      bool overlaps = !cur.upper || !r.lower || r.lower->key < cur.upper->key ||
                      (r.lower->key == cur.upper->key && (cur.upper->inclusive || r.lower->inclusive));
      if (overlaps) {
        if (cur.upper && (!r.upper || r.upper->key > cur.upper->key ||
                          (r.upper->key == cur.upper->key && r.upper->inclusive))) {
          cur.upper = r.upper;
        }
        continue;
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

void specRanges(const RangeSpec& spec, const AccessPath& path, const TableColumns& columns,
                EvalContext& ctx, std::vector<engine::KeyRange>& out, bool& exact) {
  // The common case, every equality with one value: one key, no combinations to build.
  bool single = !spec.hasRange();
  for (const auto& values : spec.eq) single = single && values.size() == 1;
  if (single) {
    engine::KeyEncoder key;
    for (size_t k = 0; k < spec.eq.size(); ++k) {
      const Expr* e = spec.eq[k][0];
      if (e == nullptr) {
        key.null();
      } else {
        Value scratch;
        // A value with an affinity of its own (a CAST) may convert the column instead; one of
        // the column's own affinity (another table's column of its type) converts neither.
        if (convertsColumn(*e, columns[path.keyColumns[k]])) exact = false;
        auto v = pointKey(columns[path.keyColumns[k]], evalRef(*e, ctx, scratch), exact);
        if (!v) return;
        key.value(*v);
      }
    }
    out.push_back(engine::KeyRange::prefix(key.bytes()));
    return;
  }
  // Every combination of the equality values (IN lists multiply), as encoded key prefixes.
  std::vector<std::string> bases{std::string()};
  for (size_t k = 0; k < spec.eq.size(); ++k) {
    const Column& col = columns[path.keyColumns[k]];
    std::vector<std::string> keys;
    for (const Expr* e : spec.eq[k]) {
      if (e == nullptr) {
        keys.push_back(encodeOne(engine::KeyNull{}));
        continue;
      }
      if (convertsColumn(*e, col)) exact = false;
      Value scratch;
      if (auto key = pointKey(col, evalRef(*e, ctx, scratch), exact)) keys.push_back(encodeOne(*key));
    }
    if (keys.size() == 1) {
      for (auto& b : bases) b += keys[0];
      continue;
    }
    std::vector<std::string> next;
    next.reserve(bases.size() * keys.size());
    for (const auto& b : bases) {
      for (const auto& key : keys) next.push_back(b + key);
    }
    bases = std::move(next);
  }
  if (bases.empty()) return;
  if (!spec.hasRange()) {
    for (auto& b : bases) {
      out.push_back(b.empty() ? engine::KeyRange::all() : engine::KeyRange::prefix(std::move(b)));
    }
    return;
  }
  const Column& col = columns[path.keyColumns[spec.eq.size()]];
  if (spec.likePattern) {
    exact = false;
    Value pattern = eval(*spec.likePattern, ctx);
    for (const auto& b : bases) {
      if (auto r = likeRange(b, pattern)) out.push_back(*r);
    }
    return;
  }
  for (const auto* b : {&spec.lower, &spec.upper}) {
    if (*b && convertsColumn(*(*b)->value, col)) exact = false;
  }
  Value scratch;
  KeyBound lo = spec.lower ? boundKey(col, evalRef(*spec.lower->value, ctx, scratch),
                                      spec.lower->inclusive, true, exact)
                           : unbounded();
  KeyBound hi = spec.upper ? boundKey(col, evalRef(*spec.upper->value, ctx, scratch),
                                      spec.upper->inclusive, false, exact)
                           : unbounded();
  if (lo.kind == BoundKind::Empty || hi.kind == BoundKind::Empty) return;
  // A missing lower bound starts after the NULLs (comparisons never hold for NULL).
  std::string loKey = encodeOne(lo.kind == BoundKind::At ? lo.value : engine::KeyValue(engine::KeyNull{}));
  bool loInclusive = lo.kind == BoundKind::At && lo.inclusive;
  std::string hiKey = hi.kind == BoundKind::At ? encodeOne(hi.value) : std::string();
  for (const auto& base : bases) {
    // No stored key is longer than LMDB's limit: a prefix past it matches nothing, and a bound
    // past it is dropped (the WHERE then decides).
    if (base.size() > engine::kMaxKeySize) continue;
    std::optional<std::string> lower, upper;
    bool lowerInclusive = loInclusive;
    if (base.size() + loKey.size() <= engine::kMaxKeySize) {
      lower = base + loKey;
    } else {
      exact = false;  // from the prefix on; the WHERE drops what is below the bound
      if (!base.empty()) lower = base;
      lowerInclusive = true;
    }
    bool upperInclusive = true;
    if (hi.kind == BoundKind::At && base.size() + hiKey.size() <= engine::kMaxKeySize) {
      upper = base + hiKey;
      upperInclusive = hi.inclusive;
    } else {
      if (hi.kind == BoundKind::At) exact = false;
      if (!base.empty()) upper = base;
    }
    out.push_back(orm::TableCore::toKeyRange(std::move(lower), lowerInclusive, std::move(upper),
                                             upperInclusive));
  }
}

}  // namespace

void keyRanges(const AccessPath& path, const TableColumns& columns, EvalContext& ctx,
               std::vector<engine::KeyRange>& out, bool* exact) {
  bool isExact = true;
  out.clear();
  if (path.specs.empty()) {
    out.push_back(engine::KeyRange::all());
  } else {
    for (const auto& spec : path.specs) specRanges(spec, path, columns, ctx, out, isExact);
    if (path.pointLookup) {
      // Whole keys, read one by one: sorted, each once (merging would join neighbours).
      std::sort(out.begin(), out.end(), lowerBefore);
      out.erase(std::unique(out.begin(), out.end(),
                            [](const auto& a, const auto& b) { return a.lower->key == b.lower->key; }),
                out.end());
    } else if (out.size() > 1) {
      out = merge(std::move(out));
    } else {
      std::erase_if(out, isEmptyRange);
    }
  }
  if (exact) *exact = isExact;
}

}  // namespace capdb::query
