#include "fuzz/fuzz_database.h"

#include <memory>
#include <optional>

#include "sql_people.capnp.h"
#include "support/temp_dir.h"

namespace capdb::fuzz {
namespace {

struct FuzzDatabase {
  testing::TempDir dir;
  std::optional<Database> db;
};

// Not destroyed at exit: libFuzzer may exit from a signal handler or another thread while an
// input runs, and the directory is the system's temporary one.
FuzzDatabase& state() {
  static auto* s = new FuzzDatabase();
  return *s;
}

void open(FuzzDatabase& s) {
  s.db.emplace(Database::open(s.dir / "db", Schemas{table<sqltest::Person>(), table<sqltest::Event>()}));
  s.db->query(
      "INSERT INTO people (name, email, age, city, score, active, balance, photo, kind, "
      "address.street, address.zip) VALUES "
      "('Ann', 'ann@example.com', 31, 'Paris', 4.5, TRUE, -120, x'00ff10', 'person', 'Rue 1', 75001), "
      "('Bob', 'bob@example.com', 25, 'London', -0.0, FALSE, 9000000000, NULL, 'company', NULL, 0), "
      "('Cara', NULL, 42, 'Paris', 1e300, TRUE, 0, x'', 'robot', 'Main St', 4294967295), "
      "('Dan', 'dan@example.com', 0, NULL, -1.5, FALSE, -9223372036854775808, NULL, 'person', '', 1)");
  s.db->query(
      "INSERT INTO events (device, seq, level, value, note) VALUES "
      "('a', 1, -5, 0.5, 'boot'), ('a', 2, 32767, -1.25, NULL), ('b', -2147483648, 0, 3e38, 'x')");
}

}  // namespace

Database& fuzzDatabase() {
  FuzzDatabase& s = state();
  if (!s.db) open(s);
  return *s.db;
}

void resetFuzzDatabase() {
  FuzzDatabase& s = state();
  s.db.reset();
  std::filesystem::remove_all(s.dir / "db");
  open(s);
}

}  // namespace capdb::fuzz
