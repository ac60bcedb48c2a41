// When a batch of an eager rewrite or an index build has run long enough (EagerOptions::batchTime).
#pragma once

#include <chrono>
#include <cstdint>

#include "capdb/options.h"

namespace capdb::migrate {

class BatchTimer {
 public:
  explicit BatchTimer(const EagerOptions& options)
      : end_(options.batchTime.count() > 0 ? Clock::now() + options.batchTime : Clock::time_point::max()) {}

  // Whether the batch, `n` records in, is past its time: the clock is read every 64 records,
  // which cost more together than one reading.
  bool over(uint64_t n) const { return n > 0 && n % 64 == 0 && Clock::now() >= end_; }

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point end_;
};

}  // namespace capdb::migrate
