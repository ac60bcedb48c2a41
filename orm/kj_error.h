// Turns kj::Exception (thrown by Cap'n Proto) into capdb::Error at the boundary where it arises.
#pragma once

#include <kj/exception.h>

#include <string_view>
#include <utility>

#include "engine/error_context.h"
#include "engine/fail.h"

namespace capdb::orm {

// Error(code, "<context>: <what>: <kj's description>"), `what` left out when empty.
[[noreturn]] inline void failKj(ErrorCode code, const kj::Exception& e, std::string_view what = {}) {
  std::string_view description = e.getDescription().cStr();
  if (what.empty()) failIn(code, "{}", description);
  failIn(code, "{}: {}", what, description);
}

// Runs fn(); a kj::Exception it throws becomes Error(code, "<what>: <kj's description>"), where
// `what` is formatted only then, never on success (this runs on hot paths). translateKjIn adds the
// error context's prefix (engine/error_context.h), for operations that run in one: TableCore's
// record building, the JSON export. translateKj does not, so a catalog or schema message is the
// same whichever table's operation reached it.
template <typename Fn, typename... Args>
auto translateKj(ErrorCode code, Fn&& fn, fmt::format_string<Args...> what, Args&&... args)
    -> decltype(fn()) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const kj::Exception& e) {
    fail(code, "{}: {}", fmt::format(what, std::forward<Args>(args)...),
         std::string_view(e.getDescription().cStr()));
  }
}

template <typename Fn, typename... Args>
auto translateKjIn(ErrorCode code, Fn&& fn, fmt::format_string<Args...> what, Args&&... args)
    -> decltype(fn()) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const kj::Exception& e) {
    failKj(code, e, fmt::format(what, std::forward<Args>(args)...));
  }
}

}  // namespace capdb::orm
