// Turns LMDB return codes into capdb::Error at the boundary where they arise.
#pragma once

#include <lmdb.h>

#include <string_view>

#include "capdb/error.h"

namespace capdb::engine {

// The capdb code for an LMDB or errno return code. Every LMDB code is mapped explicitly.
ErrorCode lmdbErrorCode(int rc) noexcept;

// Throws Error(lmdbErrorCode(rc), "<what>: <LMDB's text> (<code name>)") unless rc is 0.
// `what` names the operation and the thing it worked on, e.g. "put into people".
void checkLmdb(int rc, std::string_view what);
[[noreturn]] void throwLmdb(int rc, std::string_view what);

// mdb_dbi_open, then the key comparison capdb uses for every database: the same order as
// LMDB's default (bytes unsigned, then the shorter key first), compared eight bytes at a time.
// Because the order is LMDB's own, tools that open the file without it (mdb_dump, mdb_stat)
// see the same trees. Returns LMDB's code.
int openDbi(MDB_txn* txn, const char* name, unsigned int flags, MDB_dbi* dbi);

}  // namespace capdb::engine
