// Errors of the capdb command's own (bad flags, unreadable files): capdb::Error with a formatted
// message, as the library's own errors are.
#pragma once

#include <fmt/format.h>

#include <utility>

#include "capdb/error.h"

namespace capdb::cli {

template <typename... Args>
[[noreturn]] void fail(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(code, fmt::format(format, std::forward<Args>(args)...));
}

// Throws `code` with the message unless `condition` holds.
template <typename... Args>
void require(bool condition, ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  if (!condition) [[unlikely]] fail(code, format, std::forward<Args>(args)...);
}

}  // namespace capdb::cli
