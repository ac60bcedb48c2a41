// Turns kj::Exception (thrown by Cap'n Proto) into capdb::Error at the boundary where it arises.
#pragma once

#include <kj/exception.h>

#include <string_view>
#include <utility>

#include "engine/fail.h"

namespace capdb::orm {

// Runs fn(); a kj::Exception it throws becomes Error(code, "<what>: <kj's description>"), where
// `what` is formatted from the format string and arguments only then, never on success (this
// runs on hot paths).
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

}  // namespace capdb::orm
