// JSON Lines (DynamicTable::importJsonLines) and CSV (Database::importCsv, the capdb tool's import)
// into the tables of a small real database (fuzz_database.h).
//
// The input's first byte picks the format and the table: 'j' JSON Lines into people, 'J' into
// events, 'c' CSV into people, 'C' into events (any other byte by its low bits); the rest is the
// text. JSON Lines run in a write transaction that is aborted, so the database is always as it
// was opened. A CSV import commits on success: its rows are then deleted again, and the
// database is reopened fresh every few thousand such imports (the autoIncrement sequence is all
// that moves in between). Any capdb::Error is an answer; anything else escaping, or a sanitizer
// report, is a finding.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

#include "capdb/capdb.h"
#include "fuzz/fuzz_database.h"

namespace {

constexpr int kCommitsBeforeReset = 4000;

// Keeps the records the database was opened with (ids 1-4 in people; device 'a' and 'b' with
// those seqs in events) and deletes the rest.
void removeImported(capdb::Database& db, bool people) {
  db.query(people ? "DELETE FROM people WHERE id > 4"
                  : "DELETE FROM events WHERE NOT ((device = 'a' AND seq IN (1, 2)) OR "
                    "(device = 'b' AND seq = -2147483648))");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static int commits = 0;
  if (size == 0) return 0;
  bool csv, people;
  switch (data[0]) {
    case 'j': csv = false, people = true; break;
    case 'J': csv = false, people = false; break;
    case 'c': csv = true, people = true; break;
    case 'C': csv = true, people = false; break;
    default: csv = data[0] & 1, people = data[0] & 2;
  }
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  capdb::Database& db = capdb::fuzz::fuzzDatabase();
  const char* table = people ? "people" : "events";
  if (!csv) {
    try {
      db.write([&](capdb::WriteTxn& tx) {
        db.table(table).importJsonLines(tx, text);
        tx.abort();
      });
    } catch (const capdb::Error&) {
    }
    return 0;
  }
  uint64_t imported = 0;
  try {
    std::istringstream in(text);
    imported = db.importCsv(table, in);
  } catch (const capdb::Error&) {
  }
  if (imported > 0) {
    removeImported(db, people);
    if (++commits >= kCommitsBeforeReset) {
      commits = 0;
      capdb::fuzz::resetFuzzDatabase();
    }
  }
  return 0;
}
