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

// The one place kj::Exception becomes capdb::Error. Runs fn(); a kj::Exception it throws becomes
// Error(code, "<context>: <what>: <kj's description>") (engine/error_context.h; an empty `what`
// is left out), where `what` is formatted only then, never on success (this runs on hot paths).
template <typename Fn, typename... Args>
auto translateKj(ErrorCode code, Fn&& fn, fmt::format_string<Args...> what, Args&&... args)
    -> decltype(fn()) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const kj::Exception& e) {
    failKj(code, e, fmt::format(what, std::forward<Args>(args)...));
  }
}

}  // namespace capdb::orm
