// Error context: what an error is about (a table, and within it the record an operation is at, or
// the line of an input it reads),
// set once for the span of an operation rather than typed into every message, in the spirit of
// KJ_CONTEXT. Errors thrown with failIn / CAPDB_REQUIRE_IN while a context is active start with
// it: "table people: ..." or "table people, record (42): ...". A context holds views and is
// formatted only when something throws, so setting one costs two thread-local writes.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "capdb/error.h"

namespace capdb {

class ErrorContext {
 public:
  // `table` and `encodedKey` must outlive the context (they are the operation's own).
  explicit ErrorContext(std::string_view table, std::string_view encodedKey = {}) noexcept
      : table_(table), key_(encodedKey), outer_(current_) {
    current_ = this;
  }
  ~ErrorContext() { current_ = outer_; }
  ErrorContext(const ErrorContext&) = delete;
  ErrorContext& operator=(const ErrorContext&) = delete;

  // The line of its input an import has reached (0: none): "table people, line 7".
  void setLine(uint64_t line) noexcept { line_ = line; }

  // The innermost context of this thread, as messages start: "table people",
  // "table people, record (42)" or "table people, line 7"; empty outside every context.
  static std::string describe();

 private:
  std::string_view table_;
  std::string_view key_;
  uint64_t line_ = 0;
  ErrorContext* outer_;
  static inline thread_local ErrorContext* current_ = nullptr;
};

// Throws Error(code, "<context>: <message>"), or with the message alone outside every context.
[[noreturn]] void failInContext(ErrorCode code, std::string_view message);

template <typename... Args>
[[noreturn]] void failIn(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  failInContext(code, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace capdb

#define CAPDB_REQUIRE_IN(condition, code, ...) \
  do {                                         \
    if (!(condition)) [[unlikely]] {           \
      ::capdb::failIn((code), __VA_ARGS__);    \
    }                                          \
  } while (false)
