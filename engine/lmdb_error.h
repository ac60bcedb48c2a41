// Turns LMDB return codes into capdb::Error at the boundary where they arise.
#pragma once

#include <string_view>

#include "capdb/error.h"

namespace capdb::engine {

// The capdb code for an LMDB or errno return code. Every LMDB code is mapped explicitly.
ErrorCode lmdbErrorCode(int rc) noexcept;

// Throws Error(lmdbErrorCode(rc), "<what>: <LMDB's text> (<code name>)") unless rc is 0.
// `what` names the operation and the thing it worked on, e.g. "put into people".
void checkLmdb(int rc, std::string_view what);
[[noreturn]] void throwLmdb(int rc, std::string_view what);

}  // namespace capdb::engine
