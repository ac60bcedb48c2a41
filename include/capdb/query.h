// SQL over capdb tables: values, parameters, result sets and prepared statements.
// docs/sql.md is the dialect's contract. Database::query and Database::prepare (capdb/capdb.h)
// are the entry points.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "capdb/error.h"

namespace capdb {

class Database;
class Txn;
namespace detail {
struct Access;
struct PreparedStatement;
class TableHandle;
}  // namespace detail

// A Data (BLOB) value: bytes, distinct from Text.
struct Blob {
  std::string bytes;
  friend bool operator==(const Blob&, const Blob&) = default;
};

// One SQL value, of one of SQLite's five storage classes. Bool fields read as INTEGER 0 or 1,
// enum fields as TEXT (the enumerant's name), Float32 and Float64 as REAL, every integer field
// as INTEGER (a UInt64 above 2^63-1 cannot be read in SQL: InvalidArgument naming the column).
class Value {
 public:
  enum class Type : uint8_t { Null, Integer, Real, Text, Blob };

  Value() = default;  // NULL
  Value(std::nullptr_t) {}
  Value(bool v) : v_(int64_t{v}) {}
  // Any integer type; an unsigned value above 2^63-1 is InvalidArgument.
  template <typename I, typename = std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>>>
  Value(I v) : v_(checkedInteger(v)) {}
  // A NaN is NULL, as SQLite stores it: a NaN parameter compares as NULL, as a NaN field reads.
  Value(double v) {
    if (v == v) v_ = v;
  }
  Value(float v) : Value(double{v}) {}
  Value(std::string v) : v_(std::move(v)) {}
  Value(std::string_view v) : v_(std::string(v)) {}
  Value(const char* v) : v_(std::string(v)) {}
  Value(Blob v) : v_(std::move(v)) {}

  Type type() const { return static_cast<Type>(v_.index()); }
  bool isNull() const { return v_.index() == 0; }
  // The value as its own type; the wrong accessor is InvalidArgument naming both types.
  int64_t integer() const;
  double real() const;  // an INTEGER converts
  const std::string& text() const;
  const std::string& blob() const;

  // Makes this value TEXT `text`, reusing the storage of the TEXT it holds, if it holds one (for
  // a Value refilled row after row).
  void setText(std::string_view text);

  // As a SQL literal, for messages and EXPLAIN: 42, 2.5, 'it''s', x'00ff', NULL.
  std::string toSql() const;
  // As SQLite's CAST(x AS TEXT) renders it (NULL renders as the empty string).
  std::string toText() const;

  // Same type and same value (1 and 1.0 differ, unlike SQL's =).
  friend bool operator==(const Value&, const Value&) = default;

  using Variant = std::variant<std::monostate, int64_t, double, std::string, Blob>;
  const Variant& variant() const { return v_; }

 private:
  template <typename I>
  static int64_t checkedInteger(I v) {
    if constexpr (std::is_unsigned_v<I> && sizeof(I) >= sizeof(int64_t)) {
      if (v > static_cast<I>(INT64_MAX)) throwUnsignedTooLarge(static_cast<uint64_t>(v));
    }
    return static_cast<int64_t>(v);
  }
  [[noreturn]] static void throwUnsignedTooLarge(uint64_t v);

  Variant v_;
};

std::string_view typeName(Value::Type type);  // "NULL", "INTEGER", "REAL", "TEXT", "BLOB"

// Splits SQL text into its ';'-separated statements (semicolons in strings, quoted names and
// comments do not count), without the semicolons; empty statements are dropped. Throws
// SyntaxError for text that does not lex (an unterminated string, say).
std::vector<std::string> splitStatements(std::string_view sql);

// Values for a statement's parameters: positional ones (?, ?NNN; a bare ? takes the number after
// the previous one, starting at 1) and named ones (:name). A parameter the statement uses but
// the call does not give is InvalidArgument naming it; values the statement does not use are
// ignored.
struct Params {
  std::vector<Value> positional;  // positional[0] is ?1
  std::map<std::string, Value, std::less<>> named;

  Params() = default;
  Params(std::initializer_list<Value> values) : positional(values) {}
  Params& set(std::string name, Value value) {
    named[std::move(name)] = std::move(value);
    return *this;
  }
};

// A result's rows, kept as one array of values, row after row: a row costs no allocation of its
// own. Every row has width() values (a result's column count). A row is a span into the array: it
// and the iterators stay valid until the Rows is changed (a row added, reserve(), assignment) or
// destroyed; moving a Rows leaves the source empty.
class Rows {
 public:
  using Row = std::span<const Value>;

  class Iterator {
   public:
    using iterator_concept = std::random_access_iterator_tag;
    using iterator_category = std::input_iterator_tag;  // operator* returns the span by value
    using value_type = Row;
    using difference_type = std::ptrdiff_t;
    using reference = Row;
    using pointer = void;
    Iterator() = default;
    Iterator(const Rows* rows, size_t row) : rows_(rows), row_(row) {}
    Row operator*() const { return (*rows_)[row_]; }
    Row operator[](difference_type n) const { return (*rows_)[row_ + static_cast<size_t>(n)]; }
    Iterator& operator++() { return *this += 1; }
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    Iterator& operator--() { return *this -= 1; }
    Iterator operator--(int) {
      Iterator before = *this;
      --*this;
      return before;
    }
    Iterator& operator+=(difference_type n) {
      row_ = static_cast<size_t>(static_cast<difference_type>(row_) + n);
      return *this;
    }
    Iterator& operator-=(difference_type n) { return *this += -n; }
    friend Iterator operator+(Iterator i, difference_type n) { return i += n; }
    friend Iterator operator+(difference_type n, Iterator i) { return i += n; }
    friend Iterator operator-(Iterator i, difference_type n) { return i -= n; }
    friend difference_type operator-(const Iterator& a, const Iterator& b) {
      return static_cast<difference_type>(a.row_) - static_cast<difference_type>(b.row_);
    }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.row_ == b.row_; }
    friend auto operator<=>(const Iterator& a, const Iterator& b) { return a.row_ <=> b.row_; }

   private:
    const Rows* rows_ = nullptr;
    size_t row_ = 0;
  };
  using iterator = Iterator;
  using const_iterator = Iterator;
  using value_type = Row;
  using size_type = size_t;

  // Rows whose width the first row added sets.
  Rows() = default;
  // Rows of `width` values each.
  explicit Rows(size_t width) : width_(width), widthSet_(true) {}
  Rows(const Rows&) = default;
  Rows& operator=(const Rows&) = default;
  Rows(Rows&& other) noexcept
      : width_(other.width_),
        widthSet_(other.widthSet_),
        count_(std::exchange(other.count_, 0)),
        cells_(std::move(other.cells_)) {
    other.cells_.clear();
  }
  Rows& operator=(Rows&& other) noexcept {
    width_ = other.width_;
    widthSet_ = other.widthSet_;
    count_ = std::exchange(other.count_, 0);
    cells_ = std::move(other.cells_);
    other.cells_.clear();
    return *this;
  }

  size_t width() const { return width_; }
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  // Row `row`, unchecked.
  Row operator[](size_t row) const { return Row(cells_.data() + row * width_, width_); }
  // Row `row`; InvalidArgument when there is none.
  Row at(size_t row) const;
  Iterator begin() const { return Iterator(this, 0); }
  Iterator end() const { return Iterator(this, count_); }

  void reserve(size_t rows);
  // Appends a row of width() values (InvalidArgument otherwise, and nothing is added). The
  // rvalue form moves the values out of `row` and leaves it empty, with its capacity kept for the
  // next row.
  void push_back(std::vector<Value>&& row);
  void push_back(const std::vector<Value>& row);
  // The rows as vectors: copied, or moved out of an rvalue Rows.
  std::vector<std::vector<Value>> toVectors() const&;
  std::vector<std::vector<Value>> toVectors() &&;

  // Same width, same rows, same values.
  friend bool operator==(const Rows&, const Rows&) = default;

 private:
  void checkWidth(size_t values);

  size_t width_ = 0;
  bool widthSet_ = false;
  size_t count_ = 0;
  std::vector<Value> cells_;
};

// What a statement returns: a SELECT's columns and rows; EXPLAIN's one column "plan"; for
// INSERT, UPDATE and DELETE no rows and the number of records changed.
struct ResultSet {
  std::vector<std::string> columns;
  Rows rows;
  uint64_t changes = 0;

  size_t size() const { return rows.size(); }
  bool empty() const { return rows.empty(); }
  // The value at `row`, `column`; InvalidArgument naming the position when there is none.
  const Value& at(size_t row, size_t column) const;
  // The position of a column by name; InvalidArgument naming it when there is none.
  size_t column(std::string_view name) const;
};

// A statement parsed, bound to its table and planned once, to run many times with different
// parameters. It plans again, by itself, when the statistics it was planned with have moved
// enough to change the choice (the table grew or shrank by 4x, an index became ready or stopped
// being ready). Valid while the Database object that prepared it lives and is not moved from
// (it keeps that object's address, as a Table handle keeps its tables'); one thread at a time.
class Statement {
 public:
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  ~Statement();

  // Runs in its own transaction: a read snapshot for SELECT and EXPLAIN, a write transaction for
  // INSERT, UPDATE and DELETE, which then change everything or, on any error, nothing.
  ResultSet run(const Params& params = {});
  // Runs in the caller's transaction. INSERT, UPDATE and DELETE need a WriteTxn
  // (InvalidArgument otherwise); when one fails, the transaction may only be aborted.
  ResultSet run(Txn& tx, const Params& params = {});

  // The plan, as EXPLAIN prints it.
  std::string explain() const;
  // Whether the statement returns rows (SELECT, EXPLAIN) rather than changing records.
  bool isQuery() const;
  // The result's column names (empty for INSERT, UPDATE, DELETE).
  const std::vector<std::string>& columns() const;

 private:
  friend struct detail::Access;
  Statement(Database& db, std::unique_ptr<detail::PreparedStatement> prepared);
  Database* db_;
  std::unique_ptr<detail::PreparedStatement> prepared_;
};

}  // namespace capdb
