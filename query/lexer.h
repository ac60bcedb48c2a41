// The SQL lexer: text to tokens, each with its line and column for error messages.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace capdb::query {

enum class TokenKind : uint8_t {
  End,
  Identifier,  // bare or quoted ("a.b", `x`); text holds the name without quotes
  Keyword,     // text holds the keyword in upper case
  Integer,     // text holds the digits
  Real,
  String,      // text holds the value, '' unescaped
  Blob,        // text holds the bytes
  Parameter,   // text holds "?", "?12" or ":name"
  Operator,    // text holds the operator: ( ) , . ; + - * / % || = == != <> < <= > >=
};

struct Token {
  TokenKind kind = TokenKind::End;
  std::string text;
  uint32_t line = 1;
  uint32_t column = 1;
  size_t offset = 0;  // in the statement's text
  size_t length = 0;
  bool quoted = false;  // an identifier written in quotes (never a keyword)

  bool is(TokenKind k, std::string_view t) const { return kind == k && text == t; }
  bool isKeyword(std::string_view k) const { return is(TokenKind::Keyword, k); }
  bool isOp(std::string_view op) const { return is(TokenKind::Operator, op); }
};

// The tokens of `sql`, ending with one End token. Throws SyntaxError with line and column for an
// unterminated string, quoted identifier or comment, a malformed number or blob, or a character
// that starts no token.
std::vector<Token> tokenize(std::string_view sql);

// Whether `word` (any case) is a keyword, which a name must quote to be used as a name.
bool isReservedWord(std::string_view word);

// How a token appears in an error message: near "X", or "at end of input".
std::string describe(const Token& token);

}  // namespace capdb::query
