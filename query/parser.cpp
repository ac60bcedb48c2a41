#include "query/parser.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string>

#include "engine/fail.h"
#include "query/lexer.h"

namespace capdb::query {
namespace {

struct CastName {
  std::string_view name;
  CastType type;
};
constexpr CastName kCastNames[] = {
    {"INTEGER", CastType::Integer}, {"INT", CastType::Integer},     {"BIGINT", CastType::Integer},
    {"REAL", CastType::Real},       {"DOUBLE", CastType::Real},     {"FLOAT", CastType::Real},
    {"TEXT", CastType::Text},       {"VARCHAR", CastType::Text},    {"BLOB", CastType::Blob},
    {"BOOLEAN", CastType::Boolean}, {"BOOL", CastType::Boolean},    {"INT8", CastType::Int8},
    {"INT16", CastType::Int16},     {"INT32", CastType::Int32},     {"INT64", CastType::Int64},
    {"UINT8", CastType::UInt8},     {"UINT16", CastType::UInt16},   {"UINT32", CastType::UInt32},
    {"UINT64", CastType::UInt64},   {"FLOAT32", CastType::Float32}, {"FLOAT64", CastType::Float64},
    {"DATA", CastType::Blob},
};

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

class Parser {
 public:
  Parser(std::string_view sql, std::vector<Token> tokens) : sql_(sql), t_(std::move(tokens)) {}

  ParsedStatement statement() {
    ParsedStatement st;
    stmt_ = &st;
    lastPositional_ = 0;
    if (peek().isKeyword("EXPLAIN")) {
      next();
      st.explain = true;
    }
    const Token& first = peek();
    if (first.isKeyword("SELECT")) {
      st.kind = StatementKind::Select;
      st.select = select();
    } else if (first.isKeyword("INSERT")) {
      st.kind = StatementKind::Insert;
      st.insert = insert();
    } else if (first.isKeyword("UPDATE")) {
      st.kind = StatementKind::Update;
      st.update = update();
    } else if (first.isKeyword("DELETE")) {
      st.kind = StatementKind::Delete;
      st.del = remove();
    } else if (first.isKeyword("MIGRATE") && !st.explain) {
      st.kind = StatementKind::Migrate;
      st.migrate = migrate();
    } else {
      error(first, "expected SELECT, INSERT, UPDATE, DELETE, EXPLAIN or MIGRATE");
    }
    return st;
  }

  bool atEnd() const { return peek().kind == TokenKind::End; }
  bool acceptSemicolon() { return accept(TokenKind::Operator, ";"); }
  const Token& peek(size_t ahead = 0) const {
    return t_[std::min(pos_ + ahead, t_.size() - 1)];
  }
  [[noreturn]] void error(const Token& at, std::string_view what) const {
    fail(ErrorCode::SyntaxError, "line {}, column {}: {}: {}", at.line, at.column, describe(at),
         what);
  }
  size_t position() const { return pos_; }

 private:
  const Token& next() {
    const Token& t = t_[pos_];
    if (pos_ + 1 < t_.size()) ++pos_;
    return t;
  }
  bool accept(TokenKind kind, std::string_view text) {
    if (peek().is(kind, text)) {
      next();
      return true;
    }
    return false;
  }
  bool acceptKeyword(std::string_view k) { return accept(TokenKind::Keyword, k); }
  bool acceptOp(std::string_view op) { return accept(TokenKind::Operator, op); }
  void expectKeyword(std::string_view k) {
    if (!acceptKeyword(k)) error(peek(), fmt::format("expected {}", k));
  }
  void expectOp(std::string_view op) {
    if (!acceptOp(op)) error(peek(), fmt::format("expected '{}'", op));
  }
  std::string identifier(std::string_view what) {
    if (peek().kind != TokenKind::Identifier) error(peek(), fmt::format("expected {}", what));
    return next().text;
  }

  TableRef tableRef() {
    TableRef ref;
    ref.line = peek().line;
    ref.col = peek().column;
    ref.name = identifier("a table name");
    return ref;
  }

  // Words that join tables. They are not keywords (a column may be named "left"), so they are
  // told apart where a table's alias could stand.
  static bool isWord(const Token& t, std::string_view word) {
    if (t.kind != TokenKind::Identifier || t.quoted || t.text.size() != word.size()) return false;
    for (size_t i = 0; i < word.size(); ++i) {
      char c = t.text[i];
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (c != word[i]) return false;
    }
    return true;
  }
  static bool isJoinWord(const Token& t) {
    for (auto w : {"JOIN", "INNER", "LEFT", "RIGHT", "FULL", "OUTER", "CROSS", "NATURAL", "ON",
                   "USING"}) {
      if (isWord(t, w)) return true;
    }
    return false;
  }
  bool acceptWord(std::string_view word) {
    if (!isWord(peek(), word)) return false;
    next();
    return true;
  }

  // A table in FROM with its alias: t, t alias, t AS alias.
  TableRef fromTable() {
    TableRef ref = tableRef();
    if (acceptKeyword("AS")) {
      ref.alias = identifier("an alias after AS");
    } else if (peek().kind == TokenKind::Identifier && !isJoinWord(peek())) {
      ref.alias = next().text;
    }
    return ref;
  }

  // FROM t [, t | [INNER | LEFT [OUTER] | RIGHT [OUTER] | FULL [OUTER] | CROSS] JOIN t
  //   [ON expr | USING (columns)]]...
  void fromClause(SelectStmt& s) {
    s.table = fromTable();
    for (;;) {
      JoinClause j;
      const Token& at = peek();
      j.line = at.line;
      j.col = at.column;
      if (acceptOp(",")) {
        j.kind = JoinKind::Comma;
        j.table = fromTable();
        s.joins.push_back(std::move(j));
        continue;
      }
      if (isWord(at, "NATURAL")) {
        error(at, "NATURAL JOIN is not supported: name the columns with USING (...) or ON");
      }
      if (acceptWord("LEFT")) {
        acceptWord("OUTER");
        j.kind = JoinKind::Left;
      } else if (acceptWord("RIGHT")) {
        acceptWord("OUTER");
        j.kind = JoinKind::Right;
      } else if (acceptWord("FULL")) {
        acceptWord("OUTER");
        j.kind = JoinKind::Full;
      } else if (acceptWord("CROSS")) {
        j.kind = JoinKind::Cross;
      } else if (acceptWord("INNER")) {
        j.kind = JoinKind::Inner;
      } else if (!isWord(at, "JOIN")) {
        return;
      }
      if (!acceptWord("JOIN")) error(peek(), "expected JOIN");
      j.table = fromTable();
      if (acceptWord("ON")) {
        j.on = expr();
      } else if (acceptWord("USING")) {
        expectOp("(");
        do j.usingColumns.push_back(identifier("a column name in USING"));
        while (acceptOp(","));
        expectOp(")");
      }
      s.joins.push_back(std::move(j));
    }
  }

  // A column name in INSERT's list or UPDATE's SET: a dotted path.
  ColumnName columnName() {
    ColumnName c;
    c.line = peek().line;
    c.col = peek().column;
    c.name = identifier("a column name");
    while (acceptOp(".")) c.name += "." + identifier("a field name after '.'");
    return c;
  }

  std::unique_ptr<SelectStmt> select() {
    expectKeyword("SELECT");
    auto s = std::make_unique<SelectStmt>();
    if (acceptKeyword("DISTINCT")) s->distinct = true;
    else acceptKeyword("ALL");
    do {
      SelectItem item;
      if (acceptOp("*")) {
        item.text = "*";
      } else if (peek().kind == TokenKind::Identifier && peek(1).isOp(".") && peek(2).isOp("*")) {
        item.starTable = next().text;
        next();
        next();
        item.text = item.starTable + ".*";
      } else {
        size_t begin = peek().offset;
        item.expr = expr();
        item.text = std::string(sql_.substr(begin, lastEnd() - begin));
        if (acceptKeyword("AS")) {
          if (peek().kind != TokenKind::Identifier && peek().kind != TokenKind::String) {
            error(peek(), "expected an alias after AS");
          }
          item.alias = next().text;
        } else if (peek().kind == TokenKind::Identifier) {
          item.alias = next().text;
        }
      }
      s->items.push_back(std::move(item));
    } while (acceptOp(","));
    expectKeyword("FROM");
    fromClause(*s);
    if (acceptKeyword("WHERE")) s->where = expr();
    if (acceptKeyword("GROUP")) {
      expectKeyword("BY");
      do s->groupBy.push_back(expr());
      while (acceptOp(","));
    }
    if (acceptKeyword("HAVING")) s->having = expr();
    if (acceptKeyword("ORDER")) {
      expectKeyword("BY");
      do {
        OrderItem o;
        o.expr = expr();
        if (acceptKeyword("DESC")) o.desc = true;
        else acceptKeyword("ASC");
        s->orderBy.push_back(std::move(o));
      } while (acceptOp(","));
    }
    if (acceptKeyword("LIMIT")) {
      s->limit = expr();
      if (acceptKeyword("OFFSET")) {
        s->offset = expr();
      } else if (acceptOp(",")) {
        // LIMIT offset, count (SQLite's older form).
        s->offset = std::move(s->limit);
        s->limit = expr();
      }
    }
    return s;
  }

  std::unique_ptr<InsertStmt> insert() {
    expectKeyword("INSERT");
    expectKeyword("INTO");
    auto s = std::make_unique<InsertStmt>();
    s->table = tableRef();
    if (acceptOp("(")) {
      do s->columns.push_back(columnName());
      while (acceptOp(","));
      expectOp(")");
    }
    expectKeyword("VALUES");
    do {
      expectOp("(");
      std::vector<ExprPtr> row;
      do row.push_back(expr());
      while (acceptOp(","));
      expectOp(")");
      s->rows.push_back(std::move(row));
    } while (acceptOp(","));
    return s;
  }

  std::vector<Assignment> assignments() {
    std::vector<Assignment> sets;
    do {
      Assignment a;
      a.column = columnName();
      if (!acceptOp("=") && !acceptOp("==")) error(peek(), "expected '=' after the column name");
      a.value = expr();
      sets.push_back(std::move(a));
    } while (acceptOp(","));
    return sets;
  }

  std::unique_ptr<UpdateStmt> update() {
    expectKeyword("UPDATE");
    auto s = std::make_unique<UpdateStmt>();
    s->table = tableRef();
    expectKeyword("SET");
    s->sets = assignments();
    if (acceptKeyword("WHERE")) s->where = expr();
    return s;
  }

  std::unique_ptr<DeleteStmt> remove() {
    expectKeyword("DELETE");
    expectKeyword("FROM");
    auto s = std::make_unique<DeleteStmt>();
    s->table = tableRef();
    if (acceptKeyword("WHERE")) s->where = expr();
    return s;
  }

  uint32_t version(std::string_view what) {
    const Token& t = peek();
    uint32_t v = 0;
    if (t.kind != TokenKind::Integer ||
        std::from_chars(t.text.data(), t.text.data() + t.text.size(), v).ec != std::errc() ||
        v == 0) {
      error(t, fmt::format("expected the {} version, a positive integer", what));
    }
    next();
    return v;
  }

  std::unique_ptr<MigrateStmt> migrate() {
    expectKeyword("MIGRATE");
    auto s = std::make_unique<MigrateStmt>();
    s->table = tableRef();
    expectKeyword("FROM");
    s->from = version("old");
    expectKeyword("TO");
    s->to = version("new");
    expectKeyword("SET");
    s->sets = assignments();
    return s;
  }

  // ---- expressions, lowest precedence first ----

  size_t lastEnd() const {
    const Token& prev = t_[pos_ == 0 ? 0 : pos_ - 1];
    return prev.offset + prev.length;
  }

  ExprPtr make(ExprKind kind, const Token& at) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->offset = at.offset;
    e->line = at.line;
    e->col = at.column;
    return e;
  }
  ExprPtr finish(ExprPtr e) {
    e->length = lastEnd() - e->offset;
    for (const auto& a : e->args) e->height = std::max(e->height, a->height + 1);
    if (e->height > kMaxHeight) {
      error(t_[pos_ == 0 ? 0 : pos_ - 1],
            "expression more than " + std::to_string(kMaxHeight) + " levels deep");
    }
    return e;
  }
  ExprPtr binary(ExprKind kind, const Token& at, ExprPtr a, ExprPtr b) {
    auto e = make(kind, at);
    e->offset = a->offset;
    e->line = a->line;
    e->col = a->col;
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return finish(std::move(e));
  }

  // Expression trees are walked by recursion (here, in the binder, the planner, evaluation and
  // the destructor), so hostile text could overflow the stack: a tree more than kMaxHeight
  // levels deep (a chain of 1001 ORs, say, as SQLite's default limit) and more than kMaxNesting
  // levels of nesting (parentheses, a function's arguments, CASE, NOT NOT, - -), each a dozen
  // frames of this parser, are SyntaxError.
  static constexpr uint32_t kMaxHeight = 1000;
  static constexpr int kMaxNesting = 200;
  class Nested {
   public:
    Nested(Parser& p, const Token& at) : p_(p) {
      if (p_.nesting_ == kMaxNesting) {
        p_.error(at, "expressions nested more than " + std::to_string(kMaxNesting) + " deep");
      }
      ++p_.nesting_;
    }
    ~Nested() { --p_.nesting_; }
    Nested(const Nested&) = delete;
    Nested& operator=(const Nested&) = delete;

   private:
    Parser& p_;
  };

  ExprPtr expr() {
    Nested nested(*this, peek());
    return orExpr();
  }

  ExprPtr orExpr() {
    ExprPtr left = andExpr();
    while (peek().isKeyword("OR")) {
      const Token& op = next();
      left = binary(ExprKind::Or, op, std::move(left), andExpr());
    }
    return left;
  }

  ExprPtr andExpr() {
    ExprPtr left = notExpr();
    while (peek().isKeyword("AND")) {
      const Token& op = next();
      left = binary(ExprKind::And, op, std::move(left), notExpr());
    }
    return left;
  }

  ExprPtr notExpr() {
    if (peek().isKeyword("NOT")) {
      Nested nested(*this, peek());
      auto e = make(ExprKind::Not, next());
      e->args.push_back(notExpr());
      return finish(std::move(e));
    }
    return equality();
  }

  // = == != <> IS [NOT] NULL, [NOT] IN, [NOT] LIKE, [NOT] BETWEEN: SQLite's equality level.
  ExprPtr equality() {
    ExprPtr left = relational();
    for (;;) {
      const Token& t = peek();
      if (t.isOp("=") || t.isOp("==") || t.isOp("!=") || t.isOp("<>")) {
        next();
        auto e = binary(ExprKind::Compare, t, std::move(left), relational());
        e->cmp = (t.text == "=" || t.text == "==") ? CompareOp::Eq : CompareOp::Ne;
        left = std::move(e);
        continue;
      }
      if (t.isKeyword("IS")) {
        next();
        bool negated = acceptKeyword("NOT");
        if (!acceptKeyword("NULL")) error(peek(), "expected NULL after IS (IS [NOT] NULL)");
        auto e = make(ExprKind::IsNull, t);
        e->offset = left->offset;
        e->negated = negated;
        e->args.push_back(std::move(left));
        left = finish(std::move(e));
        continue;
      }
      bool negated = false;
      if (t.isKeyword("NOT") && (peek(1).isKeyword("IN") || peek(1).isKeyword("LIKE") ||
                                 peek(1).isKeyword("BETWEEN") || peek(1).isKeyword("NULL"))) {
        next();
        negated = true;
      }
      const Token& k = peek();
      if (negated && k.isKeyword("NULL")) {  // x NOT NULL, SQLite's shorthand
        next();
        auto e = make(ExprKind::IsNull, k);
        e->offset = left->offset;
        e->negated = true;
        e->args.push_back(std::move(left));
        left = finish(std::move(e));
        continue;
      }
      if (k.isKeyword("IN")) {
        next();
        auto e = make(ExprKind::In, k);
        e->offset = left->offset;
        e->negated = negated;
        e->args.push_back(std::move(left));
        expectOp("(");
        if (peek().isKeyword("SELECT")) error(peek(), "subqueries are not supported");
        if (!peek().isOp(")")) {
          do e->args.push_back(expr());
          while (acceptOp(","));
        }
        expectOp(")");
        left = finish(std::move(e));
        continue;
      }
      if (k.isKeyword("LIKE")) {
        next();
        auto e = binary(ExprKind::Like, k, std::move(left), relational());
        e->negated = negated;
        left = std::move(e);
        continue;
      }
      if (k.isKeyword("BETWEEN")) {
        next();
        auto e = make(ExprKind::Between, k);
        e->offset = left->offset;
        e->negated = negated;
        e->args.push_back(std::move(left));
        e->args.push_back(relational());
        expectKeyword("AND");
        e->args.push_back(relational());
        left = finish(std::move(e));
        continue;
      }
      if (negated) error(k, "expected IN, LIKE, BETWEEN or NULL after NOT");
      return left;
    }
  }

  ExprPtr relational() {
    ExprPtr left = additive();
    for (;;) {
      const Token& t = peek();
      CompareOp op;
      if (t.isOp("<")) op = CompareOp::Lt;
      else if (t.isOp("<=")) op = CompareOp::Le;
      else if (t.isOp(">")) op = CompareOp::Gt;
      else if (t.isOp(">=")) op = CompareOp::Ge;
      else return left;
      next();
      auto e = binary(ExprKind::Compare, t, std::move(left), additive());
      e->cmp = op;
      left = std::move(e);
    }
  }

  ExprPtr additive() {
    ExprPtr left = multiplicative();
    for (;;) {
      const Token& t = peek();
      if (!t.isOp("+") && !t.isOp("-")) return left;
      next();
      auto e = binary(ExprKind::Arith, t, std::move(left), multiplicative());
      e->arith = t.text == "+" ? ArithOp::Add : ArithOp::Sub;
      left = std::move(e);
    }
  }

  ExprPtr multiplicative() {
    ExprPtr left = concatenation();
    for (;;) {
      const Token& t = peek();
      ArithOp op;
      if (t.isOp("*")) op = ArithOp::Mul;
      else if (t.isOp("/")) op = ArithOp::Div;
      else if (t.isOp("%")) op = ArithOp::Rem;
      else return left;
      next();
      auto e = binary(ExprKind::Arith, t, std::move(left), concatenation());
      e->arith = op;
      left = std::move(e);
    }
  }

  ExprPtr concatenation() {
    ExprPtr left = unary();
    while (peek().isOp("||")) {
      const Token& t = next();
      left = binary(ExprKind::Concat, t, std::move(left), unary());
    }
    return left;
  }

  ExprPtr unary() {
    const Token& t = peek();
    if (t.isOp("-")) {
      Nested nested(*this, t);
      next();
      // A negative literal stays a literal (so -9223372036854775808 is an INTEGER).
      if (peek().kind == TokenKind::Integer || peek().kind == TokenKind::Real) {
        bool integerToken = peek().kind == TokenKind::Integer;
        ExprPtr lit = primary();
        lit->offset = t.offset;
        lit->line = t.line;
        lit->col = t.column;
        negateLiteral(*lit, integerToken);
        return finish(std::move(lit));
      }
      auto e = make(ExprKind::Negate, t);
      e->args.push_back(unary());
      return finish(std::move(e));
    }
    if (t.isOp("+")) {
      Nested nested(*this, t);
      next();
      return unary();
    }
    return primary();
  }

  static void negateLiteral(Expr& lit, bool integerToken) {
    if (lit.value.type() == Value::Type::Integer) {
      lit.value = Value(-lit.value.integer());
    } else if (lit.value.type() == Value::Type::Real) {
      double d = lit.value.real();
      // 9223372036854775808 lexes as REAL; negated it is INT64_MIN exactly.
      if (integerToken && d == 9223372036854775808.0) lit.value = Value(INT64_MIN);
      else lit.value = Value(-d);
    }
  }

  ExprPtr primary() {
    const Token& t = peek();
    switch (t.kind) {
      case TokenKind::Integer: {
        next();
        auto e = make(ExprKind::Literal, t);
        int64_t v = 0;
        auto [ptr, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
        if (ec == std::errc() && ptr == t.text.data() + t.text.size()) {
          e->value = Value(v);
        } else {
          e->value = Value(std::strtod(t.text.c_str(), nullptr));  // too big: REAL, as SQLite
        }
        return finish(std::move(e));
      }
      case TokenKind::Real: {
        next();
        auto e = make(ExprKind::Literal, t);
        e->value = Value(std::strtod(t.text.c_str(), nullptr));
        return finish(std::move(e));
      }
      case TokenKind::String: {
        next();
        auto e = make(ExprKind::Literal, t);
        e->value = Value(t.text);
        return finish(std::move(e));
      }
      case TokenKind::Blob: {
        next();
        auto e = make(ExprKind::Literal, t);
        e->value = Value(Blob{t.text});
        return finish(std::move(e));
      }
      case TokenKind::Parameter: {
        next();
        auto e = make(ExprKind::Parameter, t);
        if (t.text[0] == '?') {
          uint32_t n = 0;
          if (t.text.size() == 1) {
            n = ++lastPositional_;
          } else {
            auto [ptr, ec] = std::from_chars(t.text.data() + 1, t.text.data() + t.text.size(), n);
            if (ec != std::errc() || n == 0 || n > 32766) {
              error(t, "a parameter number must be between 1 and 32766");
            }
            lastPositional_ = std::max(lastPositional_, n);
          }
          stmt_->positionalParams = std::max(stmt_->positionalParams, n);
          e->name = "?" + std::to_string(n);
        } else {
          e->name = t.text;
          bool seen = false;
          for (const auto& n : stmt_->namedParams) seen = seen || n == t.text;
          if (!seen) stmt_->namedParams.push_back(t.text);
        }
        return finish(std::move(e));
      }
      case TokenKind::Keyword: {
        if (t.isKeyword("NULL") || t.isKeyword("TRUE") || t.isKeyword("FALSE")) {
          next();
          auto e = make(ExprKind::Literal, t);
          if (t.text == "TRUE") e->value = Value(int64_t{1});
          if (t.text == "FALSE") e->value = Value(int64_t{0});
          return finish(std::move(e));
        }
        if (t.isKeyword("CASE")) return caseExpr();
        if (t.isKeyword("CAST")) return castExpr();
        if (t.isKeyword("SELECT")) error(t, "subqueries are not supported");
        error(t, "expected an expression");
      }
      case TokenKind::Identifier: {
        next();
        if (peek().isOp("(")) return call(t);
        auto e = make(ExprKind::Column, t);
        e->name = t.text;
        while (peek().isOp(".") && peek(1).kind == TokenKind::Identifier) {
          next();
          e->name += "." + next().text;
        }
        return finish(std::move(e));
      }
      case TokenKind::Operator:
        if (t.isOp("(")) {
          next();
          if (peek().isKeyword("SELECT")) error(peek(), "subqueries are not supported");
          ExprPtr inner = expr();
          expectOp(")");
          inner->offset = t.offset;
          return finish(std::move(inner));
        }
        error(t, "expected an expression");
      case TokenKind::End: error(t, "expected an expression");
    }
    error(t, "expected an expression");
  }

  ExprPtr call(const Token& name) {
    auto e = make(ExprKind::Call, name);
    e->name = name.text;
    expectOp("(");
    if (acceptOp("*")) {
      e->star = true;
    } else if (!peek().isOp(")")) {
      if (peek().isKeyword("DISTINCT")) error(peek(), "DISTINCT inside a function call is not supported");
      do e->args.push_back(expr());
      while (acceptOp(","));
    }
    expectOp(")");
    return finish(std::move(e));
  }

  ExprPtr caseExpr() {
    auto e = make(ExprKind::Case, next());
    if (!peek().isKeyword("WHEN")) {
      e->hasBase = true;
      e->args.push_back(expr());
    }
    if (!peek().isKeyword("WHEN")) error(peek(), "expected WHEN");
    while (acceptKeyword("WHEN")) {
      e->args.push_back(expr());
      expectKeyword("THEN");
      e->args.push_back(expr());
    }
    if (acceptKeyword("ELSE")) {
      e->hasElse = true;
      e->args.push_back(expr());
    }
    expectKeyword("END");
    return finish(std::move(e));
  }

  ExprPtr castExpr() {
    auto e = make(ExprKind::Cast, next());
    expectOp("(");
    e->args.push_back(expr());
    expectKeyword("AS");
    const Token& type = peek();
    if (type.kind != TokenKind::Identifier && type.kind != TokenKind::Keyword) {
      error(type, "expected a type name after AS");
    }
    std::string name = upper(type.text);
    bool found = false;
    for (const auto& c : kCastNames) {
      if (c.name == name) {
        e->castType = c.type;
        found = true;
      }
    }
    if (!found) {
      error(type, "unknown type; expected INTEGER, REAL, TEXT, BLOB, BOOLEAN or a Cap'n Proto "
                  "type (Int8..UInt64, Float32, Float64, Text, Data, Bool)");
    }
    next();
    expectOp(")");
    return finish(std::move(e));
  }

  std::string_view sql_;
  std::vector<Token> t_;
  size_t pos_ = 0;
  int nesting_ = 0;  // Nested levels open
  ParsedStatement* stmt_ = nullptr;
  uint32_t lastPositional_ = 0;
};

}  // namespace

ParsedStatement parse(std::string_view sql) {
  Parser p(sql, tokenize(sql));
  ParsedStatement st = p.statement();
  p.acceptSemicolon();
  if (!p.atEnd()) p.error(p.peek(), "expected the end of the statement");
  return st;
}

std::vector<ScriptStatement> parseScript(std::string_view sql) {
  std::vector<ScriptStatement> out;
  Parser p(sql, tokenize(sql));
  for (;;) {
    while (p.acceptSemicolon()) {
    }
    if (p.atEnd()) return out;
    size_t begin = p.peek().offset;
    ScriptStatement s{p.statement(), {}};
    size_t end = p.peek().offset;
    if (!p.acceptSemicolon() && !p.atEnd()) p.error(p.peek(), "expected ';' between statements");
    s.text = sql.substr(begin, end - begin);
    out.push_back(std::move(s));
  }
}

std::string_view castTypeName(CastType type) {
  switch (type) {
    case CastType::Integer: return "INTEGER";
    case CastType::Real: return "REAL";
    case CastType::Text: return "TEXT";
    case CastType::Blob: return "BLOB";
    case CastType::Boolean: return "BOOLEAN";
    case CastType::Int8: return "Int8";
    case CastType::Int16: return "Int16";
    case CastType::Int32: return "Int32";
    case CastType::Int64: return "Int64";
    case CastType::UInt8: return "UInt8";
    case CastType::UInt16: return "UInt16";
    case CastType::UInt32: return "UInt32";
    case CastType::UInt64: return "UInt64";
    case CastType::Float32: return "Float32";
    case CastType::Float64: return "Float64";
  }
  return "?";
}

}  // namespace capdb::query
