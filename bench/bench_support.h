// Shared by the benchmark suites: a reporter that prints Google Benchmark's usual console
// output, then a table of medians with the subject's throughput as a ratio against each peer.
// Benchmarks are named "Workload/Variant" and report items_per_second (SetItemsProcessed).
#pragma once

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <unistd.h>

#include <map>
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
