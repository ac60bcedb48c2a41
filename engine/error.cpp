#include "capdb/error.h"

namespace capdb {

std::string_view errorCodeName(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidArgument: return "InvalidArgument";
    case ErrorCode::SyntaxError: return "SyntaxError";
    case ErrorCode::SchemaMismatch: return "SchemaMismatch";
    case ErrorCode::MigrationFailed: return "MigrationFailed";
    case ErrorCode::ConstraintViolation: return "ConstraintViolation";
    case ErrorCode::Corruption: return "Corruption";
    case ErrorCode::Full: return "Full";
    case ErrorCode::Busy: return "Busy";
    case ErrorCode::IoError: return "IoError";
    case ErrorCode::Unsupported: return "Unsupported";
    case ErrorCode::Internal: return "Internal";
    case ErrorCode::Interrupted: return "Interrupted";
  }
  return "Unknown";
}

}  // namespace capdb
