#include "engine/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>

namespace capdb::engine {
namespace {

struct Armed {
  std::string point;
  uint64_t n = 0;
  uint64_t calls = 0;
  int reportFd = -1;
};

std::mutex armedMutex;
Armed armed;
std::atomic<bool> active{false};

// Reads the environment once per process image, at load.
[[maybe_unused]] const bool fromEnvironment = [] {
  const char* at = std::getenv("CAPDB_CRASH_AT");
  if (at == nullptr) return false;
  std::string spec(at);
  size_t colon = spec.rfind(':');
  if (colon == std::string::npos) return false;
  int fd = -1;
  if (const char* report = std::getenv("CAPDB_CRASH_REPORT_FD")) fd = std::atoi(report);
  armCrash(spec.substr(0, colon), std::strtoull(spec.c_str() + colon + 1, nullptr, 10), fd);
  return true;
}();

}  // namespace

void armCrash(std::string_view point, uint64_t n, int reportFd) {
  std::lock_guard lock(armedMutex);
  armed = Armed{std::string(point), n, 0, reportFd};
  active.store(n > 0, std::memory_order_release);
}

void crashPoint(std::string_view point) {
  if (!active.load(std::memory_order_relaxed)) [[likely]] return;
  std::lock_guard lock(armedMutex);
  if (point != armed.point || ++armed.calls != armed.n) return;
  if (armed.reportFd >= 0) {
    std::string line = armed.point + ":" + std::to_string(armed.n) + "\n";
    ssize_t ignored = ::write(armed.reportFd, line.data(), line.size());
    (void)ignored;
  }
  ::kill(::getpid(), SIGKILL);
  for (;;) pause();
}

}  // namespace capdb::engine
