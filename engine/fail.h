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

// Throws Error(code, message) unless `condition` holds. For bad input, never for capdb's own
// invariants (those are Internal).
template <typename... Args>
void require(bool condition, ErrorCode code, fmt::format_string<Args...> format,
             Args&&... args) {
  if (!condition) [[unlikely]] {
    fail(code, format, std::forward<Args>(args)...);
  }
}

}  // namespace capdb
