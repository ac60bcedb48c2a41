// Internal helpers that throw capdb::Error. Every throw in capdb goes through these, so the
// message is formatted in one place and always starts from the thing at fault.
#pragma once

#include <fmt/format.h>

#include <utility>

#include "capdb/error.h"

namespace capdb {

template <typename... Args>
[[noreturn]] void fail(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(code, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace capdb

// Throws Error(code, format, args...) unless `condition` holds. A macro, so that the message's
// arguments (formatted keys, names) are evaluated only on failure, never on the hot path. For bad
// input, never for capdb's own invariants (those are Internal).
#define CAPDB_REQUIRE(condition, code, ...)      \
  do {                                           \
    if (!(condition)) [[unlikely]] {             \
      ::capdb::fail((code), __VA_ARGS__);        \
    }                                            \
  } while (false)
