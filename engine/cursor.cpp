#include "engine/cursor.h"

#include "engine/fail.h"
#include "engine/key_codec.h"
#include "engine/key_compare.h"
#include "engine/lmdb_error.h"

namespace capdb::engine {
namespace {

int compareKeys(std::string_view a, std::string_view b) { return compareKeyBytes(a, b); }

MDB_val toVal(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }

}  // namespace

KeyRange KeyRange::point(std::string_view key) { return between(key, true, key, true); }

KeyRange KeyRange::prefix(std::string_view prefix) {
  KeyRange r;
  if (prefix.empty()) return r;
  r.lower = Bound{std::string(prefix), true};
  std::string successor = prefixSuccessor(prefix);
  if (!successor.empty()) r.upper = Bound{std::move(successor), false};
  return r;
}

KeyRange KeyRange::between(std::string_view lo, bool loInclusive, std::string_view hi,
                           bool hiInclusive) {
  return KeyRange{Bound{std::string(lo), loInclusive}, Bound{std::string(hi), hiInclusive}};
}

KeyRange KeyRange::atLeast(std::string_view lo, bool inclusive) {
  return KeyRange{Bound{std::string(lo), inclusive}, std::nullopt};
}

KeyRange KeyRange::atMost(std::string_view hi, bool inclusive) {
  return KeyRange{std::nullopt, Bound{std::string(hi), inclusive}};
}

bool KeyRange::aboveLower(std::string_view key) const {
  if (!lower) return true;
  int c = compareKeys(key, lower->key);
  return c > 0 || (c == 0 && lower->inclusive);
}

bool KeyRange::belowUpper(std::string_view key) const {
  if (!upper) return true;
  int c = compareKeys(key, upper->key);
  return c < 0 || (c == 0 && upper->inclusive);
}

Cursor::Cursor(MDB_txn* txn, MDB_dbi dbi, std::weak_ptr<char> writeAlive, bool writable)
    : writeAlive_(std::move(writeAlive)), writable_(writable) {
  checkLmdb(mdb_cursor_open(txn, dbi, &cursor_), "opening a cursor");
}

Cursor::Cursor(Cursor&& other) noexcept
    : cursor_(std::exchange(other.cursor_, nullptr)),
      writeAlive_(std::move(other.writeAlive_)),
      writable_(other.writable_),
      valid_(std::exchange(other.valid_, false)),
      key_(other.key_),
      value_(other.value_) {}

Cursor& Cursor::operator=(Cursor&& other) noexcept {
  if (this != &other) {
    close();
    cursor_ = std::exchange(other.cursor_, nullptr);
    writeAlive_ = std::move(other.writeAlive_);
    writable_ = other.writable_;
    valid_ = std::exchange(other.valid_, false);
    key_ = other.key_;
    value_ = other.value_;
  }
  return *this;
}

Cursor::~Cursor() { close(); }

void Cursor::close() noexcept {
  if (cursor_ == nullptr) return;
  // LMDB frees a write transaction's cursors when the transaction ends; closing one then would
  // free it twice. Read transactions' cursors are always ours to close.
  if (!writable_ || !writeAlive_.expired()) mdb_cursor_close(cursor_);
  cursor_ = nullptr;
}

bool Cursor::move(MDB_cursor_op op, std::string_view key) {
  CAPDB_REQUIRE(cursor_ != nullptr, ErrorCode::Internal, "cursor used after it was moved from");
  if (writable_ && writeAlive_.expired()) {
    fail(ErrorCode::Internal, "cursor used after its transaction ended");
  }
  MDB_val k = toVal(key);
  MDB_val v{0, nullptr};
  int rc = mdb_cursor_get(cursor_, &k, &v, op);
  if (rc == MDB_NOTFOUND) {
    valid_ = false;
    return false;
  }
  checkLmdb(rc, "moving a cursor");
  key_ = k;
  value_ = v;
  valid_ = true;
  return true;
}

bool Cursor::first() { return move(MDB_FIRST); }
bool Cursor::last() { return move(MDB_LAST); }
bool Cursor::seek(std::string_view key) {
  if (key.empty()) return first();
  return move(MDB_SET_RANGE, key);
}
bool Cursor::seekExact(std::string_view key) {
  if (key.empty()) return valid_ = false;
  return move(MDB_SET_KEY, key);
}
bool Cursor::seekAtOrBefore(std::string_view key) {
  if (!seek(key)) return last();
  if (this->key() == key) return true;
  return prev();
}

// MDB_NEXT/MDB_PREV on an unpositioned cursor go to the first/last entry; a cursor that ran off
// one end stays off it.
bool Cursor::next() { return valid_ && move(MDB_NEXT); }
bool Cursor::prev() { return valid_ && move(MDB_PREV); }

void Cursor::erase() {
  CAPDB_REQUIRE(writable_, ErrorCode::Unsupported, "erase through a cursor of a read transaction");
  CAPDB_REQUIRE(valid_, ErrorCode::Internal, "erase through a cursor that rests on no entry");
  checkLmdb(mdb_cursor_del(cursor_, 0), "deleting through a cursor");
  // After a delete LMDB marks the cursor so that the next MDB_NEXT lands on the entry that
  // followed the deleted one (or reports the end) without skipping it.
  move(MDB_NEXT);
}

Scan::Scan(Cursor cursor, KeyRange range, Direction direction)
    : cursor_(std::move(cursor)), range_(std::move(range)), direction_(direction) {
  start();
}

void Scan::restart(KeyRange range) {
  range_ = std::move(range);
  start();
}

void Scan::start() {
  if (direction_ == Direction::Forward) {
    if (range_.lower) {
      cursor_.seek(range_.lower->key);
      if (cursor_.valid() && !range_.lower->inclusive && cursor_.key() == range_.lower->key) {
        cursor_.next();
      }
    } else {
      cursor_.first();
    }
  } else {
    if (range_.upper) {
      cursor_.seekAtOrBefore(range_.upper->key);
      if (cursor_.valid() && !range_.upper->inclusive && cursor_.key() == range_.upper->key) {
        cursor_.prev();
      }
    } else {
      cursor_.last();
    }
  }
  check();
}

void Scan::next() {
  if (!valid_) return;
  if (direction_ == Direction::Forward) cursor_.next();
  else cursor_.prev();
  check();
}

void Scan::check() {
  valid_ = cursor_.valid() &&
           (direction_ == Direction::Forward ? range_.belowUpper(cursor_.key())
                                             : range_.aboveLower(cursor_.key()));
}

}  // namespace capdb::engine
