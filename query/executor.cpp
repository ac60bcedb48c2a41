#include "query/executor.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <kj/exception.h>

#include "engine/fail.h"
#include "engine/key_codec.h"
#include "query/eval.h"
#include "query/key_ranges.h"
#include "orm/kj_error.h"
#include "orm/table_core.h"

namespace capdb::query {
namespace {

// The columns an index entry holds: the index's fields from its key, the primary key's from the
// entry's primary key (behind the fields in the key, or the value of a unique index's entry).
// The primary key's columns are decoded with the entry; the fields' only when one is read, so
// that an entry found by a range that already decided its fields costs no decoding of them.
class KeyRow : public RowAccess {
 public:
  // `used` marks the columns the statement reads (null: all); only those are decoded.
  KeyRow(const TableColumns& columns, const AccessPath& path, const orm::TableCore& table,
         const std::vector<bool>* used)
      : columns_(columns), path_(path), values_(columns.size()), isField_(columns.size(), false) {
    auto wanted = [&](size_t c) { return used == nullptr || (c < used->size() && (*used)[c]); };
    for (size_t i = 0; i < path.indexFields; ++i) {
      fieldTypes_.push_back(columns[path.keyColumns[i]].path.keyType);
      fieldWanted_.push_back(wanted(path.keyColumns[i]));
      isField_[path.keyColumns[i]] = true;
    }
    for (const auto& f : table.schema().primaryKey) {
      pkColumns_.push_back(*columns.find(f.dotted));
      pkTypes_.push_back(f.keyType);
      pkWanted_ = pkWanted_ || wanted(pkColumns_.back());
    }
  }
  void reset(std::string_view key, std::string_view value) {
    key_ = key;
    fieldsDecoded_ = false;
    // The primary key: a unique index's value, else what follows the fields in the key
    // (TableCore::primaryKeyOfEntry, without decoding the fields).
    if (value.empty()) {
      engine::KeyDecoder d(key);
      for (size_t i = 0; i < fieldTypes_.size(); ++i) d.skip();
      pk_ = d.rest();
    } else {
      pk_ = value;
    }
    if (!pkWanted_) return;
    engine::KeyDecoder p(pk_);
    for (size_t i = 0; i < pkTypes_.size(); ++i) {
      values_[pkColumns_[i]] = columns_.fromKey(p.next(pkTypes_[i]), pkColumns_[i]);
    }
    CAPDB_REQUIRE(p.done(), ErrorCode::Corruption, "index {}: an entry's primary key has {} bytes left after its {} values",
                  path_.index->schema.name, p.rest().size(), pkTypes_.size());
  }
  const Value& column(size_t i) override {
    if (isField_[i] && !fieldsDecoded_) decodeFields();
    return values_[i];
  }
  // The entry's primary key, valid until the next reset.
  std::string_view primaryKey() const { return pk_; }

 private:
  void decodeFields() {
    engine::KeyDecoder d(key_);
    for (size_t i = 0; i < fieldTypes_.size(); ++i) {
      if (!fieldWanted_[i]) {
        d.skip();
        continue;
      }
      values_[path_.keyColumns[i]] = columns_.fromKey(d.next(fieldTypes_[i]), path_.keyColumns[i]);
    }
    fieldsDecoded_ = true;
  }

  const TableColumns& columns_;
  const AccessPath& path_;
  std::vector<Value> values_;
  std::vector<bool> isField_;  // by column: one of the index's fields (a primary key column may
                               // also be one; it is then decoded from the key's fields)
  std::vector<engine::KeyType> fieldTypes_;
  std::vector<bool> fieldWanted_;
  std::vector<size_t> pkColumns_;
  std::vector<engine::KeyType> pkTypes_;
  bool pkWanted_ = false;
  bool fieldsDecoded_ = false;
  std::string_view key_;
  std::string_view pk_;
};

int64_t limitValue(const Expr* e, EvalContext& ctx, std::string_view what) {
  Value v = applyAffinity(eval(*e, ctx), Affinity::Numeric);
  if (v.type() == Value::Type::Real && v.real() == std::floor(v.real()) && std::fabs(v.real()) < 9e18) {
    v = Value(static_cast<int64_t>(v.real()));
  }
  CAPDB_REQUIRE(v.type() == Value::Type::Integer, ErrorCode::InvalidArgument,
                "{} must be an integer, not {}", what, v.toSql());
  return v.integer();
}

struct RowLess {
  const std::vector<SortKey>* keys;
  bool operator()(const std::pair<std::vector<Value>, std::vector<Value>>& a,
                  const std::pair<std::vector<Value>, std::vector<Value>>& b) const {
    for (size_t i = 0; i < keys->size(); ++i) {
      int c = compare(a.second[i], b.second[i]);
      if (c != 0) return (*keys)[i].desc ? c > 0 : c < 0;
    }
    return false;
  }
};

struct ValuesLess {
  bool operator()(const std::vector<Value>& a, const std::vector<Value>& b) const {
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      int c = compare(a[i], b[i]);
      if (c != 0) return c < 0;
    }
    return a.size() < b.size();
  }
};

// One aggregate's running state, with SQLite's rules.
struct Accumulator {
  int64_t count = 0;
  int64_t isum = 0;
  double rsum = 0;
  bool real = false;
  bool overflow = false;
  Value best;

  void add(AggregateKind kind, const Value& v) {
    if (kind == AggregateKind::CountStar) {
      ++count;
      return;
    }
    if (v.isNull()) return;
    ++count;
    switch (kind) {
      case AggregateKind::Sum: case AggregateKind::Avg: {
        if (v.type() == Value::Type::Integer) {
          addInteger(v.integer());
          break;
        }
        Value n = applyAffinity(v, Affinity::Numeric);
        if (n.type() == Value::Type::Integer) {
          addInteger(n.integer());
        } else {
          real = true;
          rsum += castReal(n).real();
        }
        break;
      }
      case AggregateKind::Min:
        if (best.isNull() || compare(v, best) < 0) best = v;
        break;
      case AggregateKind::Max:
        if (best.isNull() || compare(v, best) > 0) best = v;
        break;
      default: break;
    }
  }

  void addInteger(int64_t x) {
    rsum += static_cast<double>(x);
    if (!overflow && __builtin_add_overflow(isum, x, &isum)) overflow = true;
  }

  Value result(AggregateKind kind) const {
    switch (kind) {
      case AggregateKind::Count: case AggregateKind::CountStar: return Value(count);
      case AggregateKind::Sum:
        if (count == 0) return Value();
        if (real) return Value(rsum);
        CAPDB_REQUIRE(!overflow, ErrorCode::InvalidArgument, "integer overflow");
        return Value(isum);
      case AggregateKind::Avg:
        if (count == 0) return Value();
        return Value(rsum / static_cast<double>(count));
      case AggregateKind::Min: case AggregateKind::Max: return best;
    }
    return Value();
  }
};

// An aggregate query's groups: their keys and accumulators in two arrays, in the order they were
// first met. While keys come in ascending order (a scan in the GROUP BY's order) a new key is
// added without a search; the first one out of order makes an ordered index of them all.
class Groups {
 public:
  static constexpr size_t kNone = SIZE_MAX;

  Groups(size_t keys, size_t aggregates) : nKeys_(keys), nAgg_(aggregates) {}

  // The group with `key` (GROUP BY's values), added when new.
  size_t find(const std::vector<Value>& key) {
    if (index_.empty() && (count_ == 0 || compareTo(count_ - 1, key) < 0)) return add(key);
    if (index_.empty()) {
      for (size_t g = 0; g < count_; ++g) index_.emplace(keyOf(g), g);
    }
    auto it = index_.find(key);
    if (it != index_.end()) return it->second;
    size_t g = add(key);
    index_.emplace(key, g);
    return g;
  }
  Accumulator* accumulators(size_t g) { return accs_.data() + g * nAgg_; }
  const Value& key(size_t g, size_t i) const { return keys_[g * nKeys_ + i]; }
  std::vector<Value> keyOf(size_t g) const {
    return {keys_.begin() + static_cast<std::ptrdiff_t>(g * nKeys_),
            keys_.begin() + static_cast<std::ptrdiff_t>((g + 1) * nKeys_)};
  }
  // The groups in key order.
  template <typename F>
  void forEach(F&& f) const {
    if (index_.empty()) {
      for (size_t g = 0; g < count_; ++g) f(g);
    } else {
      for (const auto& entry : index_) f(entry.second);
    }
  }

 private:
  size_t add(const std::vector<Value>& key) {
    keys_.insert(keys_.end(), key.begin(), key.end());
    accs_.resize(accs_.size() + nAgg_);
    return count_++;
  }
  int compareTo(size_t g, const std::vector<Value>& key) const {
    for (size_t i = 0; i < nKeys_; ++i) {
      int c = compare(keys_[g * nKeys_ + i], key[i]);
      if (c != 0) return c;
    }
    return 0;
  }

  size_t nKeys_, nAgg_;
  size_t count_ = 0;
  std::vector<Value> keys_;
  std::vector<Accumulator> accs_;
  std::map<std::vector<Value>, size_t, ValuesLess> index_;  // once a key came out of order
};

}  // namespace

namespace {

// The record a RecordRow reads: in place when it is at the table's newest version and one
// segment, decoded (and upgraded) otherwise, or when a column cannot be read in place.
class StoredRecord final : public RecordSource {
 public:
  explicit StoredRecord(const orm::TableCore& table) : table_(table) {}

  // Points `row` at the record stored under `pk` as `bytes` (both valid until the next load).
  void load(RecordRow& row, std::string_view pk, std::string_view bytes) {
    table_.requireAvailable();
    pk_ = pk;
    bytes_ = bytes;
    if (flat_.reset(bytes) && flat_.version() == table_.schema().version) {
      row.reset(flat_, *this);
    } else {
      row.reset(decode());
    }
  }
  capnp::DynamicStruct::Reader decode() override {
    return table_.decode(decoder_, pk_, bytes_, false);
  }

 private:
  const orm::TableCore& table_;
  orm::FlatRecord flat_;
  orm::RecordDecoder decoder_;
  std::string_view pk_;
  std::string_view bytes_;
};

// Whether the row passes the terms no range expressed (or, when the ranges were not exact, the
// whole WHERE).
bool passes(const std::vector<const Expr*>& terms, EvalContext& ctx) {
  for (const Expr* t : terms) {
    if (!isTrue(*t, ctx)) return false;
  }
  return true;
}

}  // namespace

namespace {

// Reads the rows of one table through one access path, as often as a join needs: the row it
// fills is made once, and each run computes the key ranges from the EvalContext's parameters and
// outer rows.
class PathScan {
 public:
  // `used` marks the columns the statement reads from the table (null: all).
  PathScan(const orm::TableCore& table, const TableColumns& columns, const AccessPath& path,
           const std::vector<bool>* used)
      : table_(table), columns_(columns), path_(path), stored_(table), record_(columns) {
    if (path.kind == AccessKind::Index && path.indexOnly) keys_.emplace(columns, path, table, used);
  }

  // Calls `visit` for every row the path reads and `filter` passes, with the row in `ctx` (and
  // in ctx.rows[source] for a join); `terms` are checked instead when the key ranges hold more
  // than the terms they express. False when `visit` stopped it.
  bool run(const std::vector<const Expr*>& residual, const std::vector<const Expr*>& terms,
           int source, const Txn& tx, EvalContext& ctx,
           const std::function<bool(RowAccess& row, std::string_view pk)>& visit) {
    bool exact = true;
    std::vector<engine::KeyRange>& ranges = ranges_;
    keyRanges(path_, columns_, ctx, ranges, &exact);
    const std::vector<const Expr*>& filter = exact ? residual : terms;
    if (path_.direction == engine::Direction::Backward) std::reverse(ranges.begin(), ranges.end());
    const engine::Txn& etx = internal::engineTxn(tx);

    if (keys_) {
      KeyRow& row = *keys_;
      ctx.row = &row;
      if (ctx.rows) ctx.rows[source] = &row;
      for (auto& r : ranges) {
        // One cursor for every range and every run.
        if (entries_) entries_->restart(std::move(r));
        else entries_.emplace(etx.scan(path_.index->db, std::move(r), path_.direction));
        for (engine::Scan& scan = *entries_; scan.valid(); scan.next()) {
          row.reset(scan.key(), scan.value());
          if (!passes(filter, ctx)) continue;
          if (!visit(row, row.primaryKey())) return false;
        }
      }
      return true;
    }
    // Records are read in place where they can be, and otherwise decoded unverified
    // (TableCore::decode): both check the bounds of every read, and a damaged record's
    // kj::Exception becomes Corruption naming it here.
    RecordRow& row = record_;
    ctx.row = &row;
    if (ctx.rows) ctx.rows[source] = &row;
    std::string_view pk;
    auto corrupt = [&](const kj::Exception& e) {
      ErrorContext record = table_.context(pk);
      orm::failKj(ErrorCode::Corruption, e);
    };
    if (path_.pointLookup) {
      // Each range is one whole primary key: read it, no cursor.
      for (const auto& r : ranges) {
        pk = r.lower->key;
        auto bytes = etx.get(table_.records(etx), pk);
        if (!bytes) continue;
        try {
          stored_.load(row, pk, *bytes);
          if (!passes(filter, ctx)) continue;
          if (!visit(row, pk)) return false;
        } catch (const kj::Exception& e) {
          corrupt(e);
        }
      }
      return true;
    }
    const orm::IndexCore* index = path_.kind == AccessKind::Index ? path_.index : nullptr;
    const engine::Db& db = index ? index->db : table_.records(etx);
    for (auto& r : ranges) {
      // One pair of cursors for every range and every run.
      if (records_) records_->restart(std::move(r));
      else records_.emplace(table_, etx, etx.scan(db, std::move(r), path_.direction), index, false);
      for (orm::RecordScan& scan = *records_; scan.valid(); scan.next()) {
        pk = scan.primaryKey();
        try {
          stored_.load(row, pk, scan.value());
          if (!passes(filter, ctx)) continue;
          if (!visit(row, pk)) return false;
        } catch (const kj::Exception& e) {
          corrupt(e);
        }
      }
    }
    return true;
  }

 private:
  const orm::TableCore& table_;
  const TableColumns& columns_;
  const AccessPath& path_;
  StoredRecord stored_;
  RecordRow record_;
  std::optional<KeyRow> keys_;
  std::optional<engine::Scan> entries_;
  std::optional<orm::RecordScan> records_;
  std::vector<engine::KeyRange> ranges_;  // this run's, kept for their capacity
};

// A LEFT JOIN's table when nothing matched: every column NULL.
class NullRow final : public RowAccess {
 public:
  const Value& column(size_t) override { return null_; }

 private:
  Value null_;
};

// A row of a hash join's table, kept in memory: the columns the statement reads.
class KeptRow final : public RowAccess {
 public:
  KeptRow(std::vector<Value> values, std::string pk) : pk(std::move(pk)), values_(std::move(values)) {}
  const Value& column(size_t i) override { return values_[i]; }

  std::string pk;  // its primary key, for a FULL JOIN's matched rows

 private:
  std::vector<Value> values_;
};

// A value as a hash key: equal values (as SQLite compares values of one affinity) give equal
// bytes; an integral real hashes as the integer.
bool appendHashKey(const Value& v, std::string& out) {
  auto put = [&](char tag, const void* p, size_t n) {
    out.push_back(tag);
    uint32_t len = static_cast<uint32_t>(n);
    out.append(reinterpret_cast<const char*>(&len), sizeof len);
    out.append(static_cast<const char*>(p), n);
  };
  switch (v.type()) {
    case Value::Type::Null: return false;
    case Value::Type::Integer: {
      int64_t i = v.integer();
      put('i', &i, sizeof i);
      return true;
    }
    case Value::Type::Real: {
      double d = v.real();
      if (d == std::floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
        int64_t i = static_cast<int64_t>(d);
        put('i', &i, sizeof i);
      } else {
        put('r', &d, sizeof d);
      }
      return true;
    }
    case Value::Type::Text: put('t', v.text().data(), v.text().size()); return true;
    case Value::Type::Blob: put('b', v.blob().data(), v.blob().size()); return true;
  }
  return false;
}

size_t valueBytes(const Value& v) {
  size_t n = sizeof(Value);
  if (v.type() == Value::Type::Text) n += v.text().size();
  if (v.type() == Value::Type::Blob) n += v.blob().size();
  return n;
}

// Runs a join's steps (Plan::steps) as nested loops, calling `visit` with every table's row in
// ctx.rows for each combination that passes the terms.
class JoinRunner {
 public:
  JoinRunner(const Executable& x, const Txn& tx, EvalContext& ctx)
      : x_(x), tx_(tx), ctx_(ctx), rows_(x.bound->sources.size(), &null_),
        serials_(x.bound->sources.size(), 0), hashes_(x.plan->steps.size()), scans_(x.plan->steps.size()) {
    ctx_.rows = rows_.data();
    ctx_.serials = serials_.data();
  }
  ~JoinRunner() {
    ctx_.rows = nullptr;
    ctx_.serials = nullptr;
  }

  void run(const std::function<bool()>& visit) {
    visit_ = &visit;
    if (!step(0)) return;
    for (size_t k = 0; k < x_.plan->steps.size(); ++k) {
      if (x_.plan->steps[k].full && !unmatched(k)) return;
    }
  }

 private:
  struct Hash {
    bool built = false;
    std::vector<KeptRow> rows;
    std::unordered_multimap<std::string, size_t> index;
    std::vector<const Expr*> probeFilter;  // terms not checked while building
  };

  // The step's scanner, made on its first use.
  PathScan& scanner(size_t k) {
    if (!scans_[k]) {
      const JoinStep& s = x_.plan->steps[k];
      scans_[k] = std::make_unique<PathScan>(tableOf(s), columnsOf(s), s.access,
                                             &x_.bound->sources[static_cast<size_t>(s.source)].used);
    }
    return *scans_[k];
  }

  const orm::TableCore& tableOf(const JoinStep& s) const { return *(*x_.tables)[static_cast<size_t>(s.source)]; }
  const TableColumns& columnsOf(const JoinStep& s) const { return *x_.bound->sources[static_cast<size_t>(s.source)].columns; }

  // Reads the rows of step k for the current rows of the steps before it; false once stopped.
  bool step(size_t k) {
    if (k == x_.plan->steps.size()) return (*visit_)();
    const JoinStep& s = x_.plan->steps[k];
    bool matched = false;
    auto next = [&]() -> bool {
      matched = true;
      if (!passes(s.after, ctx_)) return true;
      return step(k + 1);
    };
    bool go = true;
    if (s.method == JoinMethod::Hash) {
      go = probe(k, s, next);
    } else {
      go = scanner(k).run(s.residual, s.terms, s.source, tx_, ctx_,
                          [&](RowAccess&, std::string_view pk) {
                            ++serials_[s.source];
                            if (s.full) match(pk);
                            return next();
                          });
    }
    if (!go) return false;
    if (!matched && s.left) {
      setNull(s.source);
      if (passes(s.after, ctx_)) return step(k + 1);
    }
    return true;
  }

  bool probe(size_t k, const JoinStep& s, const std::function<bool()>& next) {
    Hash& h = hashes_[k];
    if (!h.built) build(s, h);
    key_.clear();
    Value scratch;
    for (const auto& hk : s.hashKeys) {
      if (!appendHashKey(keyValue(*hk.outer, hk.outerAs, scratch), key_)) return true;  // NULL matches none
    }
    auto [lo, hi] = h.index.equal_range(key_);
    for (auto it = lo; it != hi; ++it) {
      rows_[s.source] = &h.rows[it->second];
      ++serials_[s.source];
      if (!passes(h.probeFilter, ctx_)) continue;
      if (s.full) match(h.rows[it->second].pk);
      if (!next()) return false;
    }
    return true;
  }

  void setNull(int source) {
    rows_[static_cast<size_t>(source)] = &null_;
    ++serials_[static_cast<size_t>(source)];
  }

  // FULL JOIN: a row of its second table that matched a row of the first.
  void match(std::string_view pk) {
    if (matched_.find(pk) != matched_.end()) return;
    matched_.emplace(pk);
    matchedBytes_ += pk.size() + 48;
    CAPDB_REQUIRE(matchedBytes_ <= x_.joinMemoryBytes, ErrorCode::InvalidArgument,
                  "the FULL JOIN's matched rows passed Options::joinMemoryBytes ({} MiB): raise it",
                  x_.joinMemoryBytes >> 20);
  }

  // FULL JOIN: every row of step k's table that nothing matched, with NULLs for the tables
  // before it, through the steps after it. False once stopped.
  bool unmatched(size_t k) {
    const JoinStep& s = x_.plan->steps[k];
    for (size_t i = 0; i < k; ++i) setNull(x_.plan->steps[i].source);
    everything_.kind = AccessKind::FullScan;
    const std::vector<const Expr*> none;
    PathScan scan(tableOf(s), columnsOf(s), everything_, &x_.bound->sources[static_cast<size_t>(s.source)].used);
    return scan.run(none, none, s.source, tx_, ctx_, [&](RowAccess&, std::string_view pk) {
      if (matched_.find(pk) != matched_.end()) return true;
      ++serials_[s.source];
      for (size_t i = 0; i < k; ++i) setNull(x_.plan->steps[i].source);
      if (!passes(s.after, ctx_)) return true;
      return step(k + 1);
    });
  }

  // Reads the step's table once through its own access path, keeping the rows that pass the
  // terms on it alone, keyed by their equality columns.
  void build(const JoinStep& s, Hash& h) {
    uint64_t bit = uint64_t{1} << s.source;
    std::vector<const Expr*> own, ownTerms;
    for (const Expr* t : s.residual) (readsOnly(*t, bit) ? own : h.probeFilter).push_back(t);
    // When the ranges read more than their terms select, every term on this table alone is
    // checked.
    for (const Expr* t : s.terms) {
      if (readsOnly(*t, bit)) ownTerms.push_back(t);
    }
    const BoundSource& src = x_.bound->sources[static_cast<size_t>(s.source)];
    std::vector<size_t> used;
    for (size_t c = 0; c < src.used.size(); ++c) {
      if (src.used[c]) used.push_back(c);
    }
    uint64_t bytes = 0;
    Value scratch;
    std::string key;
    // Only this table's terms are read while building; probe() binds its rows afterwards.
    PathScan(tableOf(s), columnsOf(s), s.access, &src.used)
        .run(own, ownTerms, s.source, tx_, ctx_, [&](RowAccess& row, std::string_view pk) {
               key.clear();
               for (const auto& hk : s.hashKeys) {
                 if (!appendHashKey(keyValue(*hk.inner, hk.innerAs, scratch), key)) return true;
               }
               std::vector<Value> values(src.columns->size());
               for (size_t c : used) {
                 values[c] = row.column(c);
                 bytes += valueBytes(values[c]);
               }
               bytes += key.size() + sizeof(KeptRow) + 64;
               CAPDB_REQUIRE(bytes <= x_.joinMemoryBytes, ErrorCode::InvalidArgument,
                             "the hash join's rows of {} passed Options::joinMemoryBytes ({} MiB): "
                             "raise it, or index the join's columns of {}",
                             src.name, x_.joinMemoryBytes >> 20, src.columns->table());
               if (s.full) bytes += pk.size();
               h.index.emplace(key, h.rows.size());
               h.rows.emplace_back(std::move(values), s.full ? std::string(pk) : std::string());
               return true;
             });
    h.built = true;
  }

  // A side of a hash key's equality, converted as the comparison would convert it.
  const Value& keyValue(const Expr& e, Affinity as, Value& scratch) {
    const Value& v = evalRef(e, ctx_, scratch);
    if (as == Affinity::None || v.isNull()) return v;
    return scratch = applyAffinity(v, as);
  }

  static bool readsOnly(const Expr& e, uint64_t bit) {
    if (e.kind == ExprKind::Column && (uint64_t{1} << e.source) != bit) return false;
    for (const auto& a : e.args) {
      if (!readsOnly(*a, bit)) return false;
    }
    return true;
  }

  const Executable& x_;
  const Txn& tx_;
  EvalContext& ctx_;
  NullRow null_;
  std::vector<RowAccess*> rows_;
  std::vector<uint64_t> serials_;  // EvalContext::serials
  std::vector<Hash> hashes_;
  std::vector<std::unique_ptr<PathScan>> scans_;
  // Looked up by string_view, without a copy.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_set<std::string, KeyHash, std::equal_to<>> matched_;
  uint64_t matchedBytes_ = 0;
  AccessPath everything_;
  const std::function<bool()>* visit_ = nullptr;
  std::string key_;
};

}  // namespace

void forEachMatch(const Executable& x, const Txn& tx, EvalContext& ctx,
                  const std::function<bool(RowAccess& row, std::string_view pk)>& visit) {
  std::vector<const Expr*> whole;
  flatten(x.bound->select.where, ExprKind::And, whole);
  PathScan(*x.table, *x.columns, x.plan->access, &x.bound->usedColumns)
      .run(x.plan->residual, whole, 0, tx, ctx, visit);
}

void forEachRow(const Executable& x, const Txn& tx, EvalContext& ctx,
                const std::function<bool()>& visit) {
  if (x.plan->steps.empty()) {
    forEachMatch(x, tx, ctx, [&](RowAccess&, std::string_view) { return visit(); });
    return;
  }
  JoinRunner(x, tx, ctx).run(visit);
}

ResultSet runSelect(const Executable& x, const Txn& tx, const std::vector<Value>& params) {
  const BoundSelect& sel = x.bound->select;
  const Plan& plan = *x.plan;
  ResultSet result;
  for (const auto& o : sel.outputs) result.columns.push_back(o.name);
  result.rows = Rows(sel.outputs.size());
  EvalContext ctx;
  ctx.params = &params;

  int64_t limit = sel.limit ? limitValue(sel.limit, ctx, "LIMIT") : -1;
  int64_t offset = sel.offset ? std::max<int64_t>(0, limitValue(sel.offset, ctx, "OFFSET")) : 0;
  if (limit == 0) return result;
  if (limit > 0 && !plan.sortNeeded && !sel.aggregateQuery) {
    result.rows.reserve(static_cast<size_t>(std::min<int64_t>(limit, 1024)));
  }

  using SortRow = std::pair<std::vector<Value>, std::vector<Value>>;  // output, sort keys
  std::vector<SortRow> rows;
  std::set<std::vector<Value>, ValuesLess> seen;
  int64_t skipped = 0;

  // Projects one row (or group) into the result; false once a pushed-down LIMIT is reached.
  // `out` keeps its capacity from row to row when the rows go straight into the result.
  std::vector<Value> out;
  auto emit = [&](EvalContext& c) -> bool {
    out.clear();
    out.reserve(sel.outputs.size());
    for (const auto& o : sel.outputs) {
      // A bare column's value moves out of the row rather than being copied.
      if (o.expr->kind == ExprKind::Column && (c.row || c.rows) && o.expr->groupKey < 0) {
        out.push_back(rowOf(*o.expr, c).take(o.expr->column));
      } else {
        out.push_back(eval(*o.expr, c));
      }
    }
    if (sel.distinct && !seen.insert(out).second) return true;
    std::vector<Value> keys;
    if (plan.sortNeeded) {
      for (const auto& k : sel.orderBy) keys.push_back(eval(*k.expr, c));
    }
    if (!plan.sortNeeded && !sel.aggregateQuery) {
      if (skipped < offset) {
        ++skipped;
        return true;
      }
      result.rows.push_back(std::move(out));
      return limit < 0 || static_cast<int64_t>(result.rows.size()) < limit;
    }
    rows.emplace_back(std::move(out), std::move(keys));
    return true;
  };

  if (!sel.aggregateQuery) {
    forEachRow(x, tx, ctx, [&] { return emit(ctx); });
  } else {
    size_t nAgg = sel.aggregates.size();
    Groups groups(sel.groupBy.size(), nAgg);
    if (plan.access.kind == AccessKind::CountAll) {
      groups.accumulators(groups.find({}))[0].count = static_cast<int64_t>(x.table->count(tx));
    } else {
      // Aggregates without GROUP BY make one row, even from no rows.
      size_t only = sel.groupBy.empty() ? groups.find({}) : Groups::kNone;
      const Value none;
      Value scratch;
      // Rows of one group often come together (a scan in the group's key order): the last
      // group is found again without a lookup.
      std::vector<Value> key(sel.groupBy.size());
      size_t last = Groups::kNone;
      // In a join, a key that reads only outer tables is the same while their rows are: it is
      // evaluated again only when one of them has moved on (EvalContext::serials).
      std::vector<size_t> keySources;
      uint64_t keyMask = 0;
      for (const Expr* g : sel.groupBy) keyMask |= sourcesOf(*g);
      for (size_t i = 0; i < 64; ++i) {
        if (keyMask & (uint64_t{1} << i)) keySources.push_back(i);
      }
      std::vector<uint64_t> keySerials(keySources.size());
      forEachRow(x, tx, ctx, [&] {
        size_t group = only;
        if (group == Groups::kNone) {
          bool same = last != Groups::kNone;
          if (same && ctx.serials != nullptr) {
            for (size_t i = 0; i < keySources.size() && same; ++i) same = ctx.serials[keySources[i]] == keySerials[i];
            if (same) group = last;
          }
          if (group == Groups::kNone) {
            same = last != Groups::kNone;
            for (size_t i = 0; i < key.size(); ++i) {
              key[i] = eval(*sel.groupBy[i], ctx);
              same = same && compare(key[i], groups.key(last, i)) == 0;
            }
            if (!same) last = groups.find(key);
            if (ctx.serials != nullptr) {
              for (size_t i = 0; i < keySources.size(); ++i) keySerials[i] = ctx.serials[keySources[i]];
            }
            group = last;
          }
        }
        Accumulator* accs = groups.accumulators(group);
        for (size_t i = 0; i < nAgg; ++i) {
          const Expr* a = sel.aggregates[i];
          accs[i].add(a->aggregateKind, a->star ? none : evalRef(*a->args[0], ctx, scratch));
        }
        return true;
      });
    }
    ctx.row = nullptr;
    std::vector<Value> aggValues(nAgg);
    std::vector<Value> groupKey;
    groups.forEach([&](size_t g) {
      const Accumulator* accs = groups.accumulators(g);
      for (size_t i = 0; i < nAgg; ++i) aggValues[i] = accs[i].result(sel.aggregates[i]->aggregateKind);
      groupKey = groups.keyOf(g);
      EvalContext gc;
      gc.params = &params;
      gc.groupKeys = &groupKey;
      gc.aggregates = &aggValues;
      if (sel.having && !isTrue(*sel.having, gc)) return;
      emit(gc);
    });
  }

  if (plan.sortNeeded || sel.aggregateQuery) {
    RowLess less{&sel.orderBy};
    int64_t end = 0;
    if (limit < 0 || __builtin_add_overflow(offset, limit, &end)) end = INT64_MAX;
    size_t want = static_cast<size_t>(std::min<int64_t>(end, static_cast<int64_t>(rows.size())));
    if (plan.sortNeeded) {
      if (want < rows.size() / 2) {
        std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(want), rows.end(), less);
      } else {
        std::stable_sort(rows.begin(), rows.end(), less);
      }
    }
    for (size_t i = static_cast<size_t>(std::min<int64_t>(offset, static_cast<int64_t>(rows.size())));
         i < want; ++i) {
      result.rows.push_back(std::move(rows[i].first));
    }
  }
  return result;
}

}  // namespace capdb::query
