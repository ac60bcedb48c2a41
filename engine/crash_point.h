// Crash points: named places where a test may have the process killed, to prove that a kill in
// that phase loses nothing. Inert unless armed: one relaxed atomic load per call.
//
// A test arms them in a child process, in code (arm) or, for a program it runs, through the
// environment: CAPDB_CRASH_AT=<point>:<n> raises SIGKILL at the n-th call of crashPoint(<point>)
// in the process; CAPDB_CRASH_REPORT_FD=<fd> writes "<point>:<n>\n" to that file descriptor just
// before (so the test can count kills by phase). Internal to capdb and its tests.
#pragma once

#include <cstdint>
#include <string_view>

namespace capdb::engine {

// The points capdb calls (docs/reliability.md):
//   migrate.<phase>.batch   each batch of a migration's phase (check, records, rekey, install)
//                           or of an index build (indexes); a drain's batches too; after its
//                           work, before it commits
//   migrate.<phase>.commit  after a batch committed
//   write.commit            an app's write transaction, just before it commits
//   import.record           each record an import inserts, before the import commits
void crashPoint(std::string_view point);

// Arms the point in this process (a forked child, say): the n-th call kills the process. A
// negative report fd reports nothing.
void armCrash(std::string_view point, uint64_t n, int reportFd = -1);

}  // namespace capdb::engine
