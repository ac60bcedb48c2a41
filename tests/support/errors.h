// "Code: message" of the capdb::Error that fn throws, or "no error", for tests that check both
// the code and what the message names.
#pragma once

#include <functional>
#include <string>

#include "capdb/error.h"

namespace capdb::testing {

inline std::string errorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return std::string(errorCodeName(e.code())) + ": " + e.what();
  }
  return "no error";
}

}  // namespace capdb::testing
