// capdb's one error type.
//
// Every failure capdb reports is a capdb::Error. Its code says how the caller should react;
// its message names what is at fault (the table, field, key, option or SQL position).
// Expected absence (a key that is not there) is never an error: it is a std::optional.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace capdb {

enum class ErrorCode {
  // The caller passed something capdb cannot accept (a key too long, an option out of range).
  // Fix the input; retrying the same call fails the same way.
  InvalidArgument,
  // SQL or a schema file could not be parsed; the message gives line, column and token.
  SyntaxError,
  // The app's schema and the database's catalog disagree in a way no migration covers.
  SchemaMismatch,
  // A migration step failed; the database is as it was before the migration began.
  MigrationFailed,
  // A primary-key or unique-index constraint would be broken; the transaction was aborted.
  ConstraintViolation,
  // Bytes on disk are not what capdb wrote: a damaged file or a bug. Restore from a backup.
  Corruption,
  // The map reached its configured limit, the disk is full, or a transaction grew past what
  // LMDB can hold. Raise EnvOptions::maxMapSize, free disk space, or split the transaction.
  Full,
  // A resource is held by someone else (all reader slots taken, a lock held). Retry later.
  Busy,
  // The operating system refused a file operation (permissions, missing directory, I/O error).
  IoError,
  // The operation is valid but not supported in this configuration (e.g. writing a read-only env).
  Unsupported,
  // A bug in capdb: an invariant did not hold. Please report it with the message.
  Internal,
  // An eager migration stopped on request (EagerOptions::stop) after the batch in flight. Every
  // batch before it is kept; the next eager open (or migrate()) resumes it.
  Interrupted,
};

// The code's name as written above, e.g. "InvalidArgument".
std::string_view errorCodeName(ErrorCode code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message)
      : std::runtime_error(std::move(message)), code_(code) {}

  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace capdb
