// The SQL parser: tokens to a ParsedStatement (query/ast.h), by recursive descent with
// SQLite's operator precedence.
#pragma once

#include <string_view>
#include <vector>

#include "query/ast.h"

namespace capdb::query {

// Parses exactly one statement (a trailing ';' is allowed). Throws SyntaxError "line L, column
// C: near "TOKEN": WHAT" at the first token that does not fit.
ParsedStatement parse(std::string_view sql);

// Parses ';'-separated statements; returns each statement's text span alongside. Empty
// statements are skipped.
struct ScriptStatement {
  ParsedStatement statement;
  std::string_view text;
};
std::vector<ScriptStatement> parseScript(std::string_view sql);

}  // namespace capdb::query
