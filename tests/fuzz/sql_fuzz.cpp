// SQL text, lexed, parsed, bound, planned and run against a small real database (fuzz_database.h).
//
// The input is split into statements (splitStatements); up to eight run in turn, each prepared
// (lexer, parser, binder, planner), explained and run with a few parameters of every type, all
// in one write transaction that is aborted at the end. Every input therefore meets the same
// records, a finding replays alone, and the database never grows. Any capdb::Error is an
// answer; anything else escaping (a kj::Exception, another std::exception) aborts the process,
// which libFuzzer reports, as it does the sanitizers' findings.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "capdb/capdb.h"
#include "fuzz/fuzz_database.h"

namespace {

constexpr size_t kMaxStatements = 8;

const capdb::Params& params() {
  static const auto* p = [] {
    auto* out = new capdb::Params{capdb::Value(int64_t{31}), capdb::Value("Paris"), capdb::Value(2.5),
                                  capdb::Value(), capdb::Value(capdb::Blob{std::string("\0\xff", 2)})};
    out->set("name", capdb::Value("Ann")).set("n", capdb::Value(int64_t{-1}));
    return out;
  }();
  return *p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view sql(reinterpret_cast<const char*>(data), size);
  capdb::Database& db = capdb::fuzz::fuzzDatabase();
  std::vector<std::string> statements;
  try {
    statements = capdb::splitStatements(sql);
  } catch (const capdb::Error&) {
    return 0;
  }
  capdb::WriteTxn tx = db.beginWrite();
  for (size_t i = 0; i < statements.size() && i < kMaxStatements; ++i) {
    try {
      capdb::Statement st = db.prepare(statements[i]);
      (void)st.explain();
      capdb::ResultSet rs = st.run(tx, params());
      for (const auto& row : rs.rows) {
        for (const auto& v : row) (void)v.toSql();
      }
    } catch (const capdb::Error&) {
      break;  // the transaction may only be aborted now
    }
  }
  tx.abort();
  return 0;
}
