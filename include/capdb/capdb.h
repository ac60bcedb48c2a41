// capdb: an embedded object database for C++ apps. Records are Cap'n Proto structs in LMDB.
//
// Caveats
// - One Database per path per process. LMDB's locks are per process: two Database objects on
//   one path in one process can corrupt each other's view. Share one Database between threads.
//   Other processes may open the same path at the same time.
// - Keep read transactions short. While one lives, the pages it sees cannot be reused (the file
//   grows under writes) and the map cannot grow (a write that needs more map waits for it, up to
//   Options::env.growWait, then fails with Busy).
// - The map grows on demand from Options::env.mapSize (64 GiB of address space by default, not
//   of disk), up to Options::env.maxMapSize (no limit by default). A write that fills the map is
//   aborted and run again from its start in a bigger map by Database::write, so the body given to
//   write() must be repeatable: it must not read a stream it cannot rewind or change anything
//   outside the transaction. Import streams with Database::importJsonLines, which rewinds or
//   spools its input. A transaction from beginWrite() fails with Busy instead and must be run
//   again by the caller.
// - Writers are fenced across processes: every transaction checks the catalog's generation
//   (one read). When another process changed a table's schema version, primary key or indexes
//   since this Database opened it (or began moving its records to new keys), every read and
//   write of that table is SchemaMismatch naming the table and what changed (both versions, or
//   both index lists): reopen the database with the app's current schema. Index state changes (a
//   build finished or failed elsewhere) are taken up as they are. An index that builds is kept by
//   every write and read by no query until complete in the query's snapshot; only while an eager
//   migration that may still be undone checks a unique index are writes to its table Busy.
// - Views are not copies: a Row, a record reader or a key view is valid only while its
//   transaction lives (scan rows: until the next step of the scan). A key view points into the
//   database's memory; a record is checked and unpacked into memory its row holds.
//
// Threads
// - Database: every method may be called from any thread at once.
// - Table<T> and DynamicTable: cheap handles; share or copy them freely between threads.
// - ReadTxn: used by one thread at a time; it may be handed to another thread (it is not tied to
//   the thread that began it). Any number may be open at once; they never block each other or the
//   writer, except while the map grows: then a new read transaction waits for the remap (which
//   itself waits at most Options::env.growWait for open ones to end).
// - WriteTxn: one at a time per database (a second writer waits for the first to end), used by
//   the thread that began it.
//
// Errors: every failure is a capdb::Error (capdb/error.h) whose code says how to react. Absence
// (no record with that key) is an empty std::optional, never an error. A failed write leaves
// the database as it was: every write transaction commits entirely or not at all.
#pragma once

#include <capnp/dynamic.h>
#include <kj/function.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "capdb/error.h"
#include "capdb/key.h"
#include "capdb/migrations.h"
#include "capdb/options.h"
#include "capdb/query.h"
#include "capdb/query_builder.h"
#include "capdb/schema.h"

namespace capdb {

class Database;
class DynamicTable;

// The library's insides, opaque here: handles point to them, and only capdb's own code reaches in.
namespace detail {
struct Access;
struct TxnParts;
class TableHandle;
struct RowDecoder;
class CursorImpl;
}  // namespace detail

// A transaction: a snapshot of the database. ReadTxn and WriteTxn are the two kinds.
class Txn {
 public:
  virtual ~Txn();
  virtual bool isWrite() const { return false; }

 private:
  // Only ReadTxn and WriteTxn are transactions; capdb makes their parts.
  friend class ReadTxn;
  friend class WriteTxn;
  friend struct detail::Access;
  Txn();
  Txn(Txn&&) noexcept;
  Txn& operator=(Txn&&) noexcept;
  std::unique_ptr<detail::TxnParts> parts_;
};

// A read-only snapshot; see the Caveats above on keeping it short. Destroying it ends it.
class ReadTxn : public Txn {
 public:
  ReadTxn(ReadTxn&& other) noexcept;
  ReadTxn& operator=(ReadTxn&& other) noexcept;
  ~ReadTxn() override;
  // Ends the snapshot now; every Row read through it becomes invalid.
  void release() noexcept;

 private:
  friend struct detail::Access;
  ReadTxn() = default;
};

// The one write transaction. In Database::write it commits when the body returns; from
// Database::beginWrite it commits on commit() and is aborted if destroyed before.
class WriteTxn : public Txn {
 public:
  WriteTxn(WriteTxn&& other) noexcept;
  WriteTxn& operator=(WriteTxn&& other) noexcept;
  ~WriteTxn() override;

  bool isWrite() const override { return true; }

  // Writes the catalog changes gathered in this transaction (record counts, sequences) and
  // commits. Throws (and aborts) on failure; after it, the transaction is over. A transaction in
  // which a write failed cannot commit (InvalidArgument): abort it.
  void commit();
  // Discards the transaction's writes. Inside Database::write, the body's writes are discarded
  // when it returns, and write() returns normally.
  void abort() noexcept;

 private:
  friend struct detail::Access;
  WriteTxn() = default;
};

// A record read by primary key: owns its decoded copy, so it stays valid while its transaction
// lives even as other records are read.
class DynamicRow {
 public:
  DynamicRow(DynamicRow&&) noexcept;
  DynamicRow& operator=(DynamicRow&&) noexcept;
  ~DynamicRow();
  capnp::DynamicStruct::Reader get() const { return reader_; }
  capnp::DynamicStruct::Reader operator*() const { return reader_; }
  // The schema version the record was stored at.
  uint32_t version() const { return version_; }

 private:
  friend struct detail::Access;
  DynamicRow() = default;
  // Decoders come from, and return to, a small per-thread pool: a get then allocates nothing.
  struct Recycle {
    void operator()(detail::RowDecoder* decoder) const noexcept;
  };
  std::unique_ptr<detail::RowDecoder, Recycle> decoder_;
  capnp::DynamicStruct::Reader reader_;
  uint32_t version_ = 0;
};

template <typename T>
class Row {
 public:
  explicit Row(DynamicRow row) : row_(std::move(row)) {}
  typename T::Reader get() const { return row_.get().template as<T>(); }
  typename T::Reader operator*() const { return get(); }
  // A temporary reader, for row->getName(); valid like the Row.
  struct Arrow {
    typename T::Reader r;
    const typename T::Reader* operator->() const { return &r; }
  };
  Arrow operator->() const { return Arrow{get()}; }
  uint32_t version() const { return row_.version(); }

 private:
  DynamicRow row_;
};

// Records in key order (primary key, or an index's key). The current record is valid until
// next() or the end of the transaction.
class RecordCursor {
 public:
  RecordCursor(RecordCursor&&) noexcept;
  RecordCursor& operator=(RecordCursor&&) noexcept;
  ~RecordCursor();

  bool valid() const;
  capnp::DynamicStruct::Reader record() const;
  // The current record's primary key, encoded (capdb/key.h; formatKey renders it).
  std::string_view primaryKey() const;
  // The same as values: what get(), update() and remove() take.
  Key key() const;
  void next();

  struct Sentinel {};
  class Iterator {
   public:
    explicit Iterator(RecordCursor* c) : c_(c) {}
    capnp::DynamicStruct::Reader operator*() const { return c_->record(); }
    Iterator& operator++() {
      c_->next();
      return *this;
    }
    bool operator==(Sentinel) const { return !c_->valid(); }

   private:
    RecordCursor* c_;
  };
  Iterator begin() { return Iterator(this); }
  Sentinel end() { return {}; }

 private:
  friend struct detail::Access;
  explicit RecordCursor(std::unique_ptr<detail::CursorImpl> scan);
  std::unique_ptr<detail::CursorImpl> scan_;
};

// Typed records in key order; see RecordCursor.
template <typename T>
class TypedCursor {
 public:
  explicit TypedCursor(RecordCursor c) : c_(std::move(c)) {}
  bool valid() const { return c_.valid(); }
  typename T::Reader record() const { return c_.record().template as<T>(); }
  void next() { c_.next(); }

  struct Sentinel {};
  class Iterator {
   public:
    explicit Iterator(TypedCursor* c) : c_(c) {}
    typename T::Reader operator*() const { return c_->record(); }
    Iterator& operator++() {
      c_->next();
      return *this;
    }
    bool operator==(Sentinel) const { return !c_->valid(); }

   private:
    TypedCursor* c_;
  };
  Iterator begin() { return Iterator(this); }
  Sentinel end() { return {}; }

 private:
  RecordCursor c_;
};

// A table by name, over capnp::DynamicStruct: what tools and the SQL layer use. Every write
// keeps the table's indexes in the same transaction. The operations' contracts:
// - insert: stores a new record; an autoIncrement key field left 0 gets the table's next
//   sequence value. Returns that field's value (0 for tables without autoIncrement). A
//   duplicate primary key or unique index key is ConstraintViolation naming the table, the index
//   and the key; the caller's transaction is then aborted by Database::write (it must not
//   commit a transaction whose write failed). A NaN in a primary-key field is InvalidArgument.
// - update(record): replaces the record with the same primary key; false if there is none.
// - update(key, edit): edits a builder initialised from the stored record; false if there is
//   none. Changing the primary key in edit is InvalidArgument.
// - upsert: update if the key exists, else insert; true when it inserted.
// - remove: false if there was no such record.
// - get: the record, or nullopt.
// - scan / find: records by primary-key range or index range, in either direction. An index
//   key holds a NaN as NULL, so find takes a NaN in a bound as NULL.
class DynamicTable {
 public:
  using Edit = std::function<void(capnp::DynamicStruct::Builder)>;

  const TableSchema& schema() const;
  const std::string& name() const;

  uint64_t insert(WriteTxn& tx, const Edit& fill) const;
  uint64_t insert(WriteTxn& tx, capnp::DynamicStruct::Reader record) const;
  bool update(WriteTxn& tx, capnp::DynamicStruct::Reader record) const;
  bool update(WriteTxn& tx, const Key& key, const Edit& edit) const;
  bool upsert(WriteTxn& tx, capnp::DynamicStruct::Reader record) const;
  bool remove(WriteTxn& tx, const Key& key) const;

  std::optional<DynamicRow> get(const Txn& tx, const Key& key) const;
  RecordCursor scan(const Txn& tx, const Range& range = Range::all(),
                    Direction direction = Direction::Forward) const;
  // Records whose `index` key lies in range (Range::prefix(Key{...}) for an exact or prefix
  // match). Throws InvalidArgument for an unknown index.
  RecordCursor find(const Txn& tx, std::string_view index, const Range& range,
                    Direction direction = Direction::Forward) const;
  // Records in the table, exact, as of this transaction.
  uint64_t count(const Txn& tx) const;
  // The values of `index`'s key in `record`, a record of this table (as get, scan and find give
  // it): Range::prefix(indexKey(index, record)) makes find() return the record among those with
  // the same key. Throws InvalidArgument for an unknown index or a record of another struct.
  Key indexKey(std::string_view index, capnp::DynamicStruct::Reader record) const;

  // JSON Lines: one JSON object per record (Cap'n Proto's JsonCodec; 64-bit integers are strings).
  // export writes the whole table in primary-key order and returns the record count.
  uint64_t exportJsonLines(const Txn& tx, std::ostream& out) const;
  // Only the records for which the SQL expression `where` holds (docs/sql.md), in primary-key
  // order; an empty `where` exports every record.
  uint64_t exportJsonLines(const Txn& tx, std::ostream& out, std::string_view where) const;
  // Inserts every line of `jsonLines` in the caller's transaction. A line that does not parse or
  // does not fit the schema, or a record that breaks a constraint, is InvalidArgument or
  // ConstraintViolation naming its line number; Database::write then aborts, so the import is all
  // or nothing. Blank lines are skipped. Returns the records inserted. The text is read again
  // from its start if Database::write runs the body again; to import a stream or a file, which
  // cannot be, use Database::importJsonLines. If it throws, the transaction can only be aborted
  // (committing it is InvalidArgument): the entries of non-unique indexes, written at the end of
  // the import in key order, were never written for the records it had inserted.
  uint64_t importJsonLines(WriteTxn& tx, std::string_view jsonLines) const;

  // A query over this table built in C++ (capdb/query_builder.h):
  // people.where(col("age") > 30).orderBy("name").limit(10).run(tx).
  Query where(const SqlExpr& condition) const { return Query(*handle_).where(condition); }
  Query query() const { return Query(*handle_); }

 private:
  friend struct detail::Access;
  explicit DynamicTable(detail::TableHandle* handle) : handle_(handle) {}
  detail::TableHandle* handle_;
};

// The primary keys of the records a query selects, in its order.
std::vector<Key> recordKeys(const Query& query, const Txn& tx);

// A table over its generated Cap'n Proto type T: DynamicTable's operations, typed.
template <typename T>
class Table {
 public:
  using Builder = typename T::Builder;
  using Reader = typename T::Reader;

  template <typename Fill>
  uint64_t insert(WriteTxn& tx, Fill&& fill) const {
    if constexpr (std::is_invocable_v<Fill&, Builder>) {
      return t_.insert(tx, [&](capnp::DynamicStruct::Builder b) { fill(b.as<T>()); });
    } else {
      return t_.insert(tx, capnp::DynamicStruct::Reader(Reader(fill)));
    }
  }
  bool update(WriteTxn& tx, Reader record) const { return t_.update(tx, record); }
  template <typename EditFn>
  bool update(WriteTxn& tx, const Key& key, EditFn&& edit) const {
    return t_.update(tx, key, [&](capnp::DynamicStruct::Builder b) { edit(b.as<T>()); });
  }
  bool upsert(WriteTxn& tx, Reader record) const { return t_.upsert(tx, record); }
  bool remove(WriteTxn& tx, const Key& key) const { return t_.remove(tx, key); }

  std::optional<Row<T>> get(const Txn& tx, const Key& key) const {
    auto row = t_.get(tx, key);
    if (!row) return std::nullopt;
    return Row<T>(std::move(*row));
  }
  TypedCursor<T> scan(const Txn& tx, const Range& range = Range::all(),
                      Direction direction = Direction::Forward) const {
    return TypedCursor<T>(t_.scan(tx, range, direction));
  }
  TypedCursor<T> find(const Txn& tx, std::string_view index, const Range& range,
                      Direction direction = Direction::Forward) const {
    return TypedCursor<T>(t_.find(tx, index, range, direction));
  }
  uint64_t count(const Txn& tx) const { return t_.count(tx); }
  const DynamicTable& dynamic() const { return t_; }

  // A query over this table whose rows(tx) are typed records (capdb/query_builder.h).
  class TypedQuery {
   public:
    TypedQuery(Query q, DynamicTable t) : q_(std::move(q)), t_(t) {}
    TypedQuery& where(const SqlExpr& condition) { return q_.where(condition), *this; }
    TypedQuery& orderBy(const SqlExpr& key, Order order = Order::Asc) {
      return q_.orderBy(key, order), *this;
    }
    TypedQuery& orderBy(const char* column, Order order = Order::Asc) {
      return q_.orderBy(column, order), *this;
    }
    TypedQuery& limit(int64_t n) { return q_.limit(n), *this; }
    TypedQuery& offset(int64_t n) { return q_.offset(n), *this; }
    // The matching records in the query's order; valid while tx lives.
    std::vector<Row<T>> rows(const Txn& tx) const {
      std::vector<Row<T>> out;
      for (const auto& keyRow : recordKeys(q_, tx)) {
        if (auto row = t_.get(tx, keyRow)) out.emplace_back(std::move(*row));
      }
      return out;
    }
    ResultSet run(const Txn& tx) const { return q_.run(tx); }
    std::string explain(const Txn& tx) const { return q_.explain(tx); }
    std::string sql() const { return q_.sql(); }
    const Query& query() const { return q_; }

   private:
    Query q_;
    DynamicTable t_;
  };
  TypedQuery where(const SqlExpr& condition) const { return TypedQuery(t_.where(condition), t_); }
  TypedQuery query() const { return TypedQuery(t_.query(), t_); }

 private:
  friend class Database;
  explicit Table(DynamicTable t) : t_(t) {}
  DynamicTable t_;
};

class Database {
 public:
  // Opens (creating if missing) the database at `path`, a directory. Each of the app's tables is
  // created if missing, with its indexes. An existing table is checked against the catalog: the
  // same version with an identical or wire-compatible schema opens (a newer compatible schema
  // becomes the stored one; an added or changed index starts building, a removed one is dropped);
  // a higher version opens through the steps of options.migrations, in options.mode
  // (capdb/migrations.h); anything else is SchemaMismatch naming the table, the field and the
  // change. Tables in the database that the app does not list stay as they are, readable
  // through table(name). Opening costs O(tables) in every mode: an index that builds (added,
  // changed, or over fields a step sets) is kept by every write at once, filled in batches by
  // drain() or migrate(), and read by queries once complete; MigrationMode::Eager runs
  // migrate() before open returns.
  static Database open(const std::filesystem::path& path, const Schemas& schemas = {},
                       const Options& options = {});

  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  ~Database();

  // A snapshot for reading; see Caveats.
  ReadTxn read() const;

  // Runs body(WriteTxn&) in a write transaction and commits it; returns what body returns. If
  // body throws, nothing it wrote is kept and the exception propagates. If the map fills, body
  // runs again from its start in a fresh transaction after the map grows: body must be
  // repeatable. It must not consume input it cannot read again (a stream: use
  // Database::importJsonLines, or read the input before write()), nor have other effects outside
  // the transaction that a second run would repeat or miss (see Caveats).
  template <typename Body>
  auto write(Body&& body) -> std::invoke_result_t<Body&, WriteTxn&>;

  // A write transaction to commit by hand; aborted if destroyed uncommitted.
  WriteTxn beginWrite();

  // Rewrites every record stored at an old schema version at the newest one, in batches (one
  // write transaction each, which also commits the checkpoint), then fills the indexes that are
  // building. A unique index whose keys repeat fails (capdb/admin.h, IndexStatus), the records
  // untouched: MigrationFailed lists the duplicates once the rest of the work is done. Resumes where an earlier run stopped (after a crash, a
  // kill or a failed step). Other writers run between batches; readers never wait. A step that
  // fails stops it with MigrationFailed naming the table, the key and the step; the failing batch
  // leaves nothing behind. Returns the records rewritten.
  uint64_t migrate(const EagerOptions& options);
  uint64_t migrate();  // with the options given to open
  // Runs eager batches within `budget`, for apps to call when idle (hybrid mode). Returns true
  // when no old record or pending index rebuild is left.
  bool drain(DrainBudget budget);
  // Records of the app's tables still stored at a version that needs a step, as of now.
  uint64_t oldRecords() const;
  // Starts the build of `index` of `table` again, from nothing: for a unique index whose build
  // failed over duplicate keys, once they are removed (docs/migrations.md). The index is then
  // building (kept by every write, never read) until drain(), migrate() or an eager open fills
  // it. Costs O(the index's pages); InvalidArgument for an unknown table or index, Busy while a
  // migration of the table may still be undone or moves its records to new keys.
  void rebuildIndex(std::string_view table, std::string_view index);

  // SQL (docs/sql.md). Parses, plans and runs one statement: SELECT and EXPLAIN in a read
  // snapshot, INSERT, UPDATE and DELETE in a write transaction of their own, which changes
  // everything the statement says or, on any error, nothing. Errors: SyntaxError with line,
  // column and token; InvalidArgument naming an unknown table or column (with the closest
  // name), a missing parameter or a value that does not fit its column; ConstraintViolation.
  ResultSet query(std::string_view sql, const Params& params = {});
  // The same, in the caller's transaction (INSERT, UPDATE and DELETE need a WriteTxn). The
  // rows are copies: they outlive the transaction.
  ResultSet query(Txn& tx, std::string_view sql, const Params& params = {});
  // Parses, binds and plans a statement once, to run many times (capdb/query.h).
  Statement prepare(std::string_view sql);

  // Imports JSON Lines (DynamicTable::importJsonLines) from `in` into `table` in one write
  // transaction of its own: every record or, on any error, none, the error naming the line.
  // Whatever the input's size: a seekable stream (a file) is read again from where it stood if the
  // map must grow mid-import; any other (a pipe) is first copied to a temporary file, so memory
  // stays bounded. Returns the records inserted.
  uint64_t importJsonLines(std::string_view table, std::istream& in);
  // Imports CSV (RFC 4180: a header row of column names, quoted fields with "" for a quote, line
  // breaks inside quotes) into `table` in one write transaction of its own: all or nothing, the
  // input read again as importJsonLines reads it. An empty unquoted field is NULL; an unquoted
  // x'..' is a BLOB; a Bool column takes true/false, t/f, yes/no or 1/0; anything else is text,
  // converted to the column's type by SQL's rules (docs/sql.md, Writes). A bad row is
  // InvalidArgument (or ConstraintViolation) naming its line. Returns the rows inserted.
  uint64_t importCsv(std::string_view table, std::istream& in);

  // The typed handle of an app table (T must be one of the Schemas given to open).
  template <typename T>
  Table<T> table() const {
    return Table<T>(tableOf(capnp::Schema::from<T>()));
  }
  // A table by name. Throws InvalidArgument naming the closest table when there is none.
  DynamicTable table(std::string_view name) const;
  // A table by its exact name, or nullopt.
  std::optional<DynamicTable> findTable(std::string_view name) const;
  std::vector<std::string> tableNames() const;
  // The tables the app listed in the Schemas given to open: the ones migrations run on.
  std::vector<std::string> appTableNames() const;

  // Whether another process changed a table's schema version, primary key or indexes since this
  // Database opened it, as found by the fence at the start of a transaction (Caveats): every read
  // and write of such a table is then SchemaMismatch, and the way on is to destroy this Database
  // and open the database again (with the app's schema at the new version).
  bool changedElsewhere() const;

  const std::filesystem::path& path() const;

 private:
  friend struct detail::Access;
  struct State;
  explicit Database(std::unique_ptr<State> state);
  // The app table declared by `schema` (Database::table<T>).
  DynamicTable tableOf(capnp::StructSchema schema) const;
  // Runs body in a write transaction and commits it, running it again after the map grew;
  // write() wraps it. Returns normally when body called WriteTxn::abort().
  void runWrite(kj::FunctionParam<void(WriteTxn&)> body);

  std::unique_ptr<State> state_;
};

template <typename Body>
auto Database::write(Body&& body) -> std::invoke_result_t<Body&, WriteTxn&> {
  using Result = std::invoke_result_t<Body&, WriteTxn&>;
  static_assert(!std::is_reference_v<Result>,
                "Database::write: the body must return a value, not a reference (the transaction "
                "its views point into ends when write returns)");
  if constexpr (std::is_void_v<Result>) {
    runWrite([&](WriteTxn& tx) { body(tx); });
  } else {
    // Each run's result replaces the last: the one returned is that of the run that committed
    // (or called abort()).
    std::optional<Result> result;
    runWrite([&](WriteTxn& tx) {
      result.reset();
      result.emplace(body(tx));
    });
    return std::move(*result);
  }
}

}  // namespace capdb
