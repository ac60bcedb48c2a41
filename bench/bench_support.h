// Shared by the benchmark suites: a reporter that prints Google Benchmark's usual console
// output, then a table of medians with the subject's throughput as a ratio against each peer.
// Benchmarks are named "Workload/Variant" and report items_per_second (SetItemsProcessed).
#pragma once

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace capdb::bench {

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  // Colour only on a terminal, so that piped output stays plain text.
  RatioReporter(std::string subject, std::vector<std::string> peers)
      : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_Tabular),
        subject_(std::move(subject)),
        peers_(std::move(peers)) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      // Medians of repetitions; single runs count when there are no repetitions.
      bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (!median && !(run.run_type == Run::RT_Iteration && run.repetitions <= 1)) continue;
      auto it = run.counters.find("items_per_second");
      if (it == run.counters.end()) continue;
      std::string name = run.run_name.function_name;
      auto slash = name.find('/');
      if (slash == std::string::npos) continue;
      std::string workload = name.substr(0, slash);
      if (!perSecond_.count(workload)) order_.push_back(workload);
      perSecond_[workload][name.substr(slash + 1)] = it->second.value;
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    fmt::print("\n{:<16} {:>14}", "workload", subject_ + " rec/s");
    for (const auto& p : peers_) fmt::print(" {:>14}", p + " rec/s");
    for (const auto& p : peers_) fmt::print(" {:>10}", "vs " + p);
    fmt::print("\n");
    for (const auto& w : order_) {
      auto& m = perSecond_[w];
      if (!m.count(subject_)) continue;
      double s = m[subject_];
      fmt::print("{:<16} {:>14.0f}", w, s);
      for (const auto& p : peers_) fmt::print(" {:>14.0f}", m.count(p) ? m[p] : 0.0);
      for (const auto& p : peers_) {
        if (m.count(p) && m[p] > 0) fmt::print(" {:>9.2f}x", s / m[p]);
        else fmt::print(" {:>10}", "-");
      }
      fmt::print("\n");
    }
  }

 private:
  std::string subject_;
  std::vector<std::string> peers_;
  std::vector<std::string> order_;
  std::map<std::string, std::map<std::string, double>> perSecond_;
};

// SQLite, the peer: a database file in WAL mode with synchronous=NORMAL (durable at checkpoints,
// as capdb's default is durable at commits), and the few calls the suites make.
class SqliteDb {
 public:
  explicit SqliteDb(const std::filesystem::path& path) {
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db));
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
  }
  ~SqliteDb() { sqlite3_close(db); }
  SqliteDb(SqliteDb&& other) noexcept : db(other.db) { other.db = nullptr; }
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error(msg + " in " + sql);
    }
  }
  sqlite3_stmt* prepare(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string(sqlite3_errmsg(db)) + " in " + sql);
    }
    return st;
  }
  // The first column of the first row, as text ("" when there is none).
  std::string one(const std::string& sql) {
    sqlite3_stmt* st = prepare(sql);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(st, 0);
      out = t ? reinterpret_cast<const char*>(t) : "";
    }
    sqlite3_finalize(st);
    return out;
  }

  sqlite3* db = nullptr;
};

// Runs the registered benchmarks with a RatioReporter; the body of each suite's main().
inline int runWithRatios(int argc, char** argv, std::string subject, std::vector<std::string> peers) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter(std::move(subject), std::move(peers));
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}

}  // namespace capdb::bench
