// Cursors and key ranges over one named database.
#pragma once

#include <lmdb.h>

#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "capdb/key.h"

namespace capdb::engine {

using capdb::Direction;  // capdb/key.h

struct Bound {
  std::string key;
  bool inclusive = true;
};

// A range of keys: each bound absent (unbounded), inclusive or exclusive.
struct KeyRange {
  std::optional<Bound> lower;
  std::optional<Bound> upper;

  static KeyRange all() { return {}; }
  // Exactly `key`.
  static KeyRange point(std::string_view key);
  // Every key that starts with `prefix` (all keys when the prefix is empty).
  static KeyRange prefix(std::string_view prefix);
  static KeyRange between(std::string_view lo, bool loInclusive, std::string_view hi,
                          bool hiInclusive);
  static KeyRange atLeast(std::string_view lo, bool inclusive = true);
  static KeyRange atMost(std::string_view hi, bool inclusive = true);

  bool aboveLower(std::string_view key) const;
  bool belowUpper(std::string_view key) const;
  bool contains(std::string_view key) const { return aboveLower(key) && belowUpper(key); }
};

// A position in a database. Every move returns whether the cursor now rests on an entry; key()
// and value() are valid while it does, until the next write in the transaction or its end.
// A Cursor must not be used after its transaction ends (destroying it then is safe).
class Cursor {
 public:
  Cursor(MDB_txn* txn, MDB_dbi dbi, std::weak_ptr<char> writeAlive, bool writable);
  Cursor(Cursor&& other) noexcept;
  Cursor& operator=(Cursor&& other) noexcept;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor();

  bool first();
  bool last();
  // The first entry whose key is >= key.
  bool seek(std::string_view key);
  // The entry whose key is exactly key.
  bool seekExact(std::string_view key);
  // The last entry whose key is <= key.
  bool seekAtOrBefore(std::string_view key);
  bool next();
  bool prev();

  bool valid() const { return valid_; }
  std::string_view key() const { return {static_cast<const char*>(key_.mv_data), key_.mv_size}; }
  std::string_view value() const {
    return {static_cast<const char*>(value_.mv_data), value_.mv_size};
  }

  // Write transactions only: removes the current entry; the cursor then rests on the next one
  // (valid() tells whether there is one).
  void erase();

 private:
  bool move(MDB_cursor_op op, std::string_view key = {});
  void close() noexcept;

  MDB_cursor* cursor_ = nullptr;
  std::weak_ptr<char> writeAlive_;  // empty for read transactions
  bool writable_ = false;
  bool valid_ = false;
  MDB_val key_{0, nullptr};
  MDB_val value_{0, nullptr};
};

// The entries of a KeyRange in one direction. Usable as `while (s.valid()) { ...; s.next(); }`
// or in a range-for over (key, value) pairs.
class Scan {
 public:
  Scan(Cursor cursor, KeyRange range, Direction direction);
  // The entries of another range, through the same cursor (a join's lookups, one per outer row).
  void restart(KeyRange range);

  bool valid() const { return valid_; }
  std::string_view key() const { return cursor_.key(); }
  std::string_view value() const { return cursor_.value(); }
  void next();

  struct Sentinel {};
  class Iterator {
   public:
    using value_type = std::pair<std::string_view, std::string_view>;
    using difference_type = std::ptrdiff_t;
    explicit Iterator(Scan* scan) : scan_(scan) {}
    value_type operator*() const { return {scan_->key(), scan_->value()}; }
    Iterator& operator++() {
      scan_->next();
      return *this;
    }
    void operator++(int) { scan_->next(); }
    bool operator==(Sentinel) const { return !scan_->valid(); }

   private:
    Scan* scan_;
  };
  Iterator begin() { return Iterator(this); }
  Sentinel end() { return {}; }

 private:
  void start();
  void check();

  Cursor cursor_;
  KeyRange range_;
  Direction direction_;
  bool valid_ = false;
};

}  // namespace capdb::engine
