#include "query/lexer.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "engine/fail.h"

namespace capdb::query {
namespace {

// Words the parser treats as keywords; any other word is an identifier (so columns may be named
// like functions or types).
constexpr std::array<std::string_view, 39> kKeywords = {
    "ALL",    "AND",     "AS",     "ASC",    "BETWEEN", "BY",       "CASE",   "CAST",
    "DELETE", "DESC",    "DISTINCT", "ELSE", "END",     "EXPLAIN",  "FALSE",  "FROM",
    "GROUP",  "HAVING",  "IN",     "INSERT", "INTO",    "IS",       "LIKE",   "LIMIT",
    "NOT",    "NULL",    "OFFSET", "OR",     "ORDER",   "SELECT",   "SET",    "THEN",
    "TRUE",   "UPDATE",  "VALUES", "WHEN",   "WHERE",   "MIGRATE",  "TO",
};

bool isKeyword(std::string_view upper) {
  return std::find(kKeywords.begin(), kKeywords.end(), upper) != kKeywords.end();
}

bool identStart(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool identPart(unsigned char c) { return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

class Lexer {
 public:
  explicit Lexer(std::string_view sql) : s_(sql) {}

  std::vector<Token> run() {
    std::vector<Token> out;
    out.reserve(s_.size() / 4 + 2);
    for (;;) {
      skipSpaceAndComments();
      Token t = start();
      if (pos_ >= s_.size()) {
        out.push_back(std::move(t));
        return out;
      }
      lexOne(t);
      t.length = pos_ - t.offset;
      out.push_back(std::move(t));
    }
  }

 private:
  Token start() const {
    Token t;
    t.line = line_;
    t.column = static_cast<uint32_t>(pos_ - lineStart_ + 1);
    t.offset = pos_;
    return t;
  }

  [[noreturn]] void error(const Token& at, std::string_view what) const {
    fail(ErrorCode::SyntaxError, "line {}, column {}: {}", at.line, at.column, what);
  }

  char peek(size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }

  void advance() {
    if (s_[pos_] == '\n') {
      ++line_;
      lineStart_ = pos_ + 1;
    }
    ++pos_;
  }

  void skipSpaceAndComments() {
    for (;;) {
      while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) advance();
      if (peek() == '-' && peek(1) == '-') {
        while (pos_ < s_.size() && s_[pos_] != '\n') advance();
      } else if (peek() == '/' && peek(1) == '*') {
        Token at = start();
        advance();
        advance();
        while (pos_ < s_.size() && !(peek() == '*' && peek(1) == '/')) advance();
        if (pos_ >= s_.size()) error(at, "unterminated /* comment");
        advance();
        advance();
      } else {
        return;
      }
    }
  }

  void lexOne(Token& t) {
    unsigned char c = static_cast<unsigned char>(s_[pos_]);
    if ((c == 'x' || c == 'X') && peek(1) == '\'') return lexBlob(t);
    if (identStart(c)) return lexWord(t);
    if (std::isdigit(c) || (c == '.' && std::isdigit(static_cast<unsigned char>(peek(1))))) {
      return lexNumber(t);
    }
    switch (c) {
      case '\'': return lexString(t);
      case '"': case '`': return lexQuoted(t, static_cast<char>(c));
      case '[': return lexQuoted(t, ']');
      case '?': case ':': return lexParameter(t);
      default: break;
    }
    static constexpr std::array<std::string_view, 6> kTwo = {"||", "==", "!=", "<>", "<=", ">="};
    for (std::string_view op : kTwo) {
      if (s_.substr(pos_, 2) == op) {
        t.kind = TokenKind::Operator;
        t.text = op;
        advance();
        advance();
        return;
      }
    }
    if (std::string_view("(),.;+-*/%=<>").find(static_cast<char>(c)) != std::string_view::npos) {
      t.kind = TokenKind::Operator;
      t.text = std::string(1, static_cast<char>(c));
      advance();
      return;
    }
    error(t, fmt::format("unexpected character '{}'", s_.substr(pos_, 1)));
  }

  void lexWord(Token& t) {
    size_t begin = pos_;
    while (pos_ < s_.size() && identPart(static_cast<unsigned char>(s_[pos_]))) advance();
    std::string word(s_.substr(begin, pos_ - begin));
    std::string upper = word;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (isKeyword(upper)) {
      t.kind = TokenKind::Keyword;
      t.text = std::move(upper);
    } else {
      t.kind = TokenKind::Identifier;
      t.text = std::move(word);
    }
  }

  void lexNumber(Token& t) {
    size_t begin = pos_;
    bool real = false;
    while (std::isdigit(static_cast<unsigned char>(peek()))) advance();
    if (peek() == '.') {
      real = true;
      advance();
      while (std::isdigit(static_cast<unsigned char>(peek()))) advance();
    }
    if (peek() == 'e' || peek() == 'E') {
      size_t save = pos_;
      advance();
      if (peek() == '+' || peek() == '-') advance();
      if (!std::isdigit(static_cast<unsigned char>(peek()))) {
        pos_ = save;
        error(t, fmt::format("malformed number \"{}\"", s_.substr(begin, pos_ - begin + 1)));
      }
      while (std::isdigit(static_cast<unsigned char>(peek()))) advance();
      real = true;
    }
    if (identStart(static_cast<unsigned char>(peek()))) {
      error(t, fmt::format("malformed number \"{}\"", s_.substr(begin, pos_ - begin + 1)));
    }
    t.kind = real ? TokenKind::Real : TokenKind::Integer;
    t.text = std::string(s_.substr(begin, pos_ - begin));
  }

  // The text after an opening quote up to `close`, a doubled `close` standing for one (when
  // `doubling`); `what` names the token for the unterminated error.
  std::string quotedText(const Token& t, char close, bool doubling, std::string_view what) {
    advance();
    std::string value;
    for (;;) {
      if (pos_ >= s_.size()) error(t, fmt::format("unterminated {}", what));
      if (s_[pos_] == close) {
        if (doubling && peek(1) == close) {
          value += close;
          advance();
          advance();
          continue;
        }
        advance();
        return value;
      }
      value += s_[pos_];
      advance();
    }
  }

  void lexString(Token& t) {
    t.kind = TokenKind::String;
    t.text = quotedText(t, '\'', true, "string");
  }

  void lexQuoted(Token& t, char close) {
    std::string value = quotedText(t, close, close != ']', "quoted identifier");
    if (value.empty()) error(t, "empty quoted identifier");
    t.kind = TokenKind::Identifier;
    t.text = std::move(value);
    t.quoted = true;
  }

  void lexBlob(Token& t) {
    advance();
    advance();
    std::string bytes;
    std::string hex;
    while (pos_ < s_.size() && s_[pos_] != '\'') {
      hex += s_[pos_];
      advance();
    }
    if (pos_ >= s_.size()) error(t, "unterminated blob literal");
    advance();
    auto nibble = [](char h) -> int {
      if (h >= '0' && h <= '9') return h - '0';
      if (h >= 'a' && h <= 'f') return h - 'a' + 10;
      if (h >= 'A' && h <= 'F') return h - 'A' + 10;
      return -1;
    };
    if (hex.size() % 2 != 0) error(t, "blob literal with an odd number of hex digits");
    for (size_t i = 0; i < hex.size(); i += 2) {
      int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
      if (hi < 0 || lo < 0) error(t, "blob literal with a character that is not a hex digit");
      bytes += static_cast<char>(hi * 16 + lo);
    }
    t.kind = TokenKind::Blob;
    t.text = std::move(bytes);
  }

  void lexParameter(Token& t) {
    char first = s_[pos_];
    size_t begin = pos_;
    advance();
    if (first == '?') {
      while (std::isdigit(static_cast<unsigned char>(peek()))) advance();
    } else {
      if (!identStart(static_cast<unsigned char>(peek()))) error(t, "':' must start a parameter name");
      while (pos_ < s_.size() && identPart(static_cast<unsigned char>(s_[pos_]))) advance();
    }
    t.kind = TokenKind::Parameter;
    t.text = std::string(s_.substr(begin, pos_ - begin));
  }

  std::string_view s_;
  size_t pos_ = 0;
  uint32_t line_ = 1;
  size_t lineStart_ = 0;
};

}  // namespace

std::vector<Token> tokenize(std::string_view sql) { return Lexer(sql).run(); }

bool isReservedWord(std::string_view word) {
  std::string upper(word);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return isKeyword(upper);
}

std::string describe(const Token& token) {
  if (token.kind == TokenKind::End) return "at end of input";
  switch (token.kind) {
    case TokenKind::String: return fmt::format("near \"'{}'\"", token.text);
    case TokenKind::Blob: return "near a blob literal";
    case TokenKind::Identifier:
      return fmt::format("near \"{}\"", token.text);
    default: return fmt::format("near \"{}\"", token.text);
  }
}

}  // namespace capdb::query
