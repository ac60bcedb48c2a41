#include "engine/error_context.h"

#include "engine/key_codec.h"

namespace capdb {

std::string ErrorContext::describe() {
  const ErrorContext* c = current_;
  if (c == nullptr) return {};
  std::string out = fmt::format("table {}", c->table_);
  if (!c->key_.empty()) out += fmt::format(", record {}", formatKey(c->key_));
  else if (c->line_ != 0) out += fmt::format(", line {}", c->line_);
  return out;
}

void failInContext(ErrorCode code, std::string_view message) {
  std::string context = ErrorContext::describe();
  if (context.empty()) throw Error(code, std::string(message));
  throw Error(code, fmt::format("{}: {}", context, message));
}

}  // namespace capdb
