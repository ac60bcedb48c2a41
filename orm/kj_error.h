// Turns kj::Exception (thrown by Cap'n Proto) into capdb::Error at the boundary where it arises.
#pragma once

#include <kj/exception.h>

#include <string_view>
#include <utility>

#include "engine/fail.h"

namespace capdb::orm {

// Runs fn(); a kj::Exception it throws becomes Error(code, "<what>: <kj's description>").
template <typename Fn>
auto translateKj(ErrorCode code, std::string_view what, Fn&& fn) -> decltype(fn()) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const kj::Exception& e) {
    fail(code, "{}: {}", what, std::string_view(e.getDescription().cStr()));
  }
}

}  // namespace capdb::orm
