// Declarative migration steps: MIGRATE table FROM n TO m SET field = expression, ...
#include <fmt/format.h>

#include <atomic>
#include <mutex>

#include "capdb/migrations.h"
#include "engine/fail.h"
#include "query/binder.h"
#include "query/columns.h"
#include "query/eval.h"
#include "query/executor.h"
#include "query/parser.h"

namespace capdb {
namespace {

using query::TableColumns;

// One MIGRATE statement, bound once per pair of schemas it runs between.
class SqlStep {
 public:
  SqlStep(std::string text, query::ParsedStatement parsed)
      : text_(std::move(text)), parsed_(std::move(parsed)) {}

  const query::MigrateStmt& statement() const { return *parsed_.migrate; }

  void check(capnp::StructSchema from, capnp::StructSchema to) { bound(from, to); }

  void run(capnp::DynamicStruct::Reader old, capnp::DynamicStruct::Builder next) {
    const Bound& b = bound(old.getSchema(), next.getSchema());
    // The row and the values are the thread's, kept from one record to the next: a step runs
    // once per record, and allocating them each time cost as much as evaluating it.
    thread_local Workspace w;
    if (w.serial != b.serial) {
      w.serial = b.serial;
      w.row = std::make_unique<query::RecordRow>(*b.oldColumns);
      w.values.assign(b.statement.sets.size(), Value());
    }
    w.row->reset(old);
    query::EvalContext ctx;
    static const std::vector<Value> noParams;
    ctx.params = &noParams;
    ctx.row = w.row.get();
    // Every value is computed from the old record before any field is set.
    for (size_t i = 0; i < w.values.size(); ++i) {
      w.values[i] = query::eval(*b.statement.sets[i].second, ctx);
    }
    for (size_t i = 0; i < w.values.size(); ++i) {
      query::setColumn(next, *b.newColumns, b.statement.sets[i].first, w.values[i]);
    }
  }

 private:
  struct Bound {
    uint64_t serial;  // never reused, unlike an address: names the binding a Workspace is for
    capnp::StructSchema from, to;
    std::unique_ptr<TableColumns> oldColumns, newColumns;
    query::ParsedStatement parsed;  // this binding's own copy of the tree
    query::BoundStatement statement;
  };

  const Bound& bound(capnp::StructSchema from, capnp::StructSchema to) {
    const Bound* last = last_.load(std::memory_order_acquire);
    if (last && last->from == from && last->to == to) return *last;
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& b : bindings_) {
      if (b->from == from && b->to == to) {
        last_.store(b.get(), std::memory_order_release);
        return *b;
      }
    }
    const auto& m = statement();
    auto b = std::make_unique<Bound>();
    static std::atomic<uint64_t> serials{0};
    b->serial = ++serials;
    b->from = from;
    b->to = to;
    b->oldColumns = std::make_unique<TableColumns>(m.table.name, from);
    b->newColumns = std::make_unique<TableColumns>(m.table.name, to);
    b->parsed = reparse();
    try {
      b->statement = query::bindMigration(b->parsed, *b->oldColumns, *b->newColumns);
    } catch (const Error& e) {
      fail(e.code(), "MIGRATE {} FROM {} TO {}: {}", m.table.name, m.from, m.to, e.what());
    }
    // The SET fields are the step's StepOptions::writes, which say which indexes it changes:
    // they must be spelled as declared.
    for (size_t i = 0; i < m.sets.size(); ++i) {
      const std::string& declared = (*b->newColumns)[b->statement.sets[i].first].name;
      CAPDB_REQUIRE(declared == m.sets[i].column.name, ErrorCode::InvalidArgument,
                    "MIGRATE {} FROM {} TO {}: write the field {} as declared, {}", m.table.name,
                    m.from, m.to, m.sets[i].column.name, declared);
    }
    bindings_.push_back(std::move(b));
    last_.store(bindings_.back().get(), std::memory_order_release);
    return *bindings_.back();
  }

  // What a thread's run of one binding reuses from record to record.
  struct Workspace {
    uint64_t serial = 0;
    std::unique_ptr<query::RecordRow> row;
    std::vector<Value> values;
  };

  // Binding fills the tree in place; each pair of schemas gets a fresh tree from the same text.
  query::ParsedStatement reparse() const { return query::parse(text_); }

  std::string text_;
  query::ParsedStatement parsed_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Bound>> bindings_;
  std::atomic<const Bound*> last_{nullptr};
};

}  // namespace

Migrations& Migrations::sql(std::string_view statements) {
  for (auto& s : query::parseScript(statements)) {
    CAPDB_REQUIRE(s.statement.kind == query::StatementKind::Migrate, ErrorCode::InvalidArgument,
                  "Migrations::sql takes MIGRATE statements, not \"{}\"", s.text);
    auto step = std::make_shared<SqlStep>(std::string(s.text), std::move(s.statement));
    const auto& m = step->statement();
    StepOptions options;
    options.sql = std::string(s.text);
    for (const auto& a : m.sets) options.writes.push_back(a.column.name);
    options.check = [step](capnp::StructSchema from, capnp::StructSchema to) { step->check(from, to); };
    this->step(m.table.name, m.from, m.to,
               [step](capnp::DynamicStruct::Reader old, capnp::DynamicStruct::Builder next) {
                 step->run(old, next);
               },
               std::move(options));
  }
  return *this;
}

}  // namespace capdb
