#include "engine/lmdb_error.h"

#include <lmdb.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "engine/fail.h"
#include "engine/key_compare.h"

namespace capdb::engine {
namespace {

int compareKeys(const MDB_val* a, const MDB_val* b) {
  return compareKeyBytes(a->mv_data, a->mv_size, b->mv_data, b->mv_size);
}

}  // namespace

int openDbi(MDB_txn* txn, const char* name, unsigned int flags, MDB_dbi* dbi) {
  int rc = mdb_dbi_open(txn, name, flags, dbi);
  if (rc != 0) return rc;
  // A database created elsewhere with integer or reversed keys keeps LMDB's comparison for it.
  unsigned int stored = 0;
  rc = mdb_dbi_flags(txn, *dbi, &stored);
  if (rc == 0 && (stored & (MDB_INTEGERKEY | MDB_REVERSEKEY)) == 0) {
    rc = mdb_set_compare(txn, *dbi, compareKeys);
  }
  return rc;
}

ErrorCode lmdbErrorCode(int rc) noexcept {
  switch (rc) {
    // LMDB's own codes, every one of them (lmdb.h, MDB_KEYEXIST .. MDB_BAD_DBI).
    case MDB_KEYEXIST: return ErrorCode::ConstraintViolation;
    case MDB_NOTFOUND: return ErrorCode::Internal;  // absence is an optional, never thrown
    case MDB_PAGE_NOTFOUND: return ErrorCode::Corruption;
    case MDB_CORRUPTED: return ErrorCode::Corruption;
    case MDB_PANIC: return ErrorCode::Corruption;
    case MDB_VERSION_MISMATCH: return ErrorCode::Corruption;
    case MDB_INVALID: return ErrorCode::Corruption;
    case MDB_MAP_FULL: return ErrorCode::Full;
    case MDB_DBS_FULL: return ErrorCode::Full;
    case MDB_READERS_FULL: return ErrorCode::Busy;
    case MDB_TLS_FULL: return ErrorCode::Busy;
    case MDB_TXN_FULL: return ErrorCode::Full;
    case MDB_CURSOR_FULL: return ErrorCode::Internal;
    case MDB_PAGE_FULL: return ErrorCode::Internal;
    case MDB_MAP_RESIZED: return ErrorCode::Busy;
    case MDB_INCOMPATIBLE: return ErrorCode::InvalidArgument;
    case MDB_BAD_RSLOT: return ErrorCode::Internal;
    case MDB_BAD_TXN: return ErrorCode::Internal;
    case MDB_BAD_VALSIZE: return ErrorCode::InvalidArgument;
    case MDB_BAD_DBI: return ErrorCode::Internal;
    // errno values LMDB passes through from the operating system.
    case EINVAL: return ErrorCode::InvalidArgument;
    case ENOSPC: return ErrorCode::Full;
    case ENOMEM: return ErrorCode::Full;
    case EAGAIN: return ErrorCode::Busy;
    case EBUSY: return ErrorCode::Busy;
    case EROFS: return ErrorCode::Unsupported;
    default: return ErrorCode::IoError;  // EACCES, ENOENT, EIO and the rest of errno
  }
}

void throwLmdb(int rc, std::string_view what) {
  fail(lmdbErrorCode(rc), "{}: {} ({})", what, mdb_strerror(rc), errorCodeName(lmdbErrorCode(rc)));
}

void checkLmdb(int rc, std::string_view what) {
  if (rc != 0) [[unlikely]] {
    throwLmdb(rc, what);
  }
}

}  // namespace capdb::engine
