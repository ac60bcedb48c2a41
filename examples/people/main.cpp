// The people app: opens a database, inserts, looks records up by primary key and by index,
// updates and removes them.
//   people [DB_DIR]    (default: a new directory under the system's temporary directory, removed
//                       at the end)
#include <capdb/capdb.h>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "people.capnp.h"

using people::Person;

int main(int argc, char** argv) try {
  // Without an argument: a directory of its own, never one that may hold someone's data.
  std::filesystem::path path;
  if (argc > 1) {
    path = argv[1];
  } else {
    std::string dir = (std::filesystem::temp_directory_path() / "people-XXXXXX").string();
    if (mkdtemp(dir.data()) == nullptr) throw std::runtime_error("cannot create a temporary directory");
    path = std::filesystem::path(dir) / "people.capdb";
  }
  struct RemoveAtExit {
    std::filesystem::path dir;
    ~RemoveAtExit() {
      std::error_code ec;
      if (!dir.empty()) std::filesystem::remove_all(dir, ec);
    }
  } cleanup{argc > 1 ? std::filesystem::path() : path.parent_path()};

  // Creates the database and the people table, with its indexes, on first open.
  auto db = capdb::Database::open(path, capdb::Schemas{capdb::table<Person>()});
  auto people = db.table<Person>();

  // One write transaction: all four records, or none.
  uint64_t ada = db.write([&](capdb::WriteTxn& tx) {
    uint64_t id = people.insert(tx, [](Person::Builder p) {
      p.setName("Ada Lovelace");
      p.setEmail("ada@example.com");
      p.setAge(36);
      p.setCity("London");
    });
    struct { const char* name; const char* email; uint8_t age; const char* city; } more[] = {
        {"Alan Turing", "alan@example.com", 41, "London"},
        {"Grace Hopper", "grace@example.com", 85, "Arlington"},
        {"Tim Berners-Lee", "tim@example.com", 36, "London"}};
    for (const auto& m : more) {
      people.insert(tx, [&](Person::Builder p) {
        p.setName(m.name);
        p.setEmail(m.email);
        p.setAge(m.age);
        p.setCity(m.city);
      });
    }
    return id;  // the autoIncrement key given to Ada
  });
  fmt::print("inserted 4 people; Ada has id {}\n", ada);

  {
    auto tx = db.read();  // a snapshot; rows read through it are valid while it lives
    if (auto row = people.get(tx, capdb::Key{ada})) {
      fmt::print("by primary key {}: {} <{}>, {}\n", ada, row->get().getName().cStr(),
                 row->get().getEmail().cStr(), row->get().getAge());
    }
    fmt::print("by unique index people_email:\n");
    for (auto p : people.find(tx, "people_email", capdb::Range::prefix(capdb::Key{"grace@example.com"}))) {
      fmt::print("  {} lives in {}\n", p.getName().cStr(), p.getCity().cStr());
    }
    fmt::print("in London, by age (index by_city_age):\n");
    for (auto p : people.find(tx, "by_city_age", capdb::Range::prefix(capdb::Key{"London"}))) {
      fmt::print("  {} {}\n", p.getAge(), p.getName().cStr());
    }
  }

  db.write([&](capdb::WriteTxn& tx) {
    people.update(tx, capdb::Key{ada}, [](Person::Builder p) { p.setAge(37); });
  });
  fmt::print("Ada had a birthday: {}\n", people.get(db.read(), capdb::Key{ada})->get().getAge());

  try {
    db.write([&](capdb::WriteTxn& tx) {
      people.insert(tx, [](Person::Builder p) { p.setName("Imposter"); p.setEmail("ada@example.com"); });
    });
  } catch (const capdb::Error& e) {
    fmt::print("refused: {}\n", e.what());
  }

  // SQL over the same table: the planner turns the WHERE into an index range.
  std::string byCity = "SELECT name, age FROM people WHERE city = ? AND age > ? ORDER BY age";
  fmt::print("SQL: {}\n  plan: {}\n", byCity,
             db.query("EXPLAIN " + byCity, {"London", 30}).at(0, 0).text());
  for (const auto& row : db.query(byCity, {"London", 30}).rows) {
    fmt::print("  {} {}\n", row[0].text(), row[1].integer());
  }
  auto changed = db.query("UPDATE people SET city = 'Paris' WHERE name LIKE 'a%'").changes;
  fmt::print("UPDATE ... WHERE name LIKE 'a%': {} records changed\n", changed);
  // The same kind of query built in C++.
  {
    auto tx = db.read();
    auto inParis = people.where(capdb::col("city") == "Paris").orderBy("name");
    for (const auto& p : inParis.rows(tx)) fmt::print("  in Paris: {}\n", p->getName().cStr());
  }

  db.write([&](capdb::WriteTxn& tx) { people.remove(tx, capdb::Key{ada}); });
  auto tx = db.read();
  fmt::print("after removing Ada: {} people, Ada {}\n", people.count(tx),
             people.get(tx, capdb::Key{ada}) ? "still there" : "gone");
  return 0;
} catch (const capdb::Error& e) {
  fmt::print(stderr, "people: error: {}\n", e.what());
  return 1;
}
