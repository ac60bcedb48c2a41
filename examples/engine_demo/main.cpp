// A tour of capdb's storage engine: an LMDB environment, named databases, memcomparable keys,
// range scans in both directions, and a write that rolls back when it throws.
#include <fmt/format.h>

#include <filesystem>
#include <stdexcept>

#include "engine/env.h"
#include "engine/key_codec.h"

using namespace capdb::engine;

int main(int argc, char** argv) {
  std::filesystem::path dir =
      argc > 1 ? std::filesystem::path(argv[1])
               : std::filesystem::temp_directory_path() / "capdb-engine-demo";
  std::filesystem::remove_all(dir);
  Env env = Env::open(dir, EnvOptions{.mapSize = 1 << 20});
  fmt::print("opened {} (map {} KiB)\n", dir.string(), env.info().mapSize >> 10);

  // Keys are (city, age) tuples; their byte order is the order of the values.
  struct Person { const char* city; int64_t age; const char* name; };
  const Person people[] = {{"Paris", 36, "Ada"},   {"Oslo", 41, "Bjarne"}, {"Paris", 29, "Grace"},
                           {"Lima", 52, "Edsger"}, {"Paris", 61, "Barbara"}};
  Db byCityAge = env.write([&](WriteTxn& tx) {
    Db db = tx.createDb("people.by_city_age");
    for (const Person& p : people) {
      tx.put(db, KeyEncoder().text(p.city).int64(p.age).bytes(), p.name);
    }
    return db;
  });

  ReadTxn tx = env.read();
  fmt::print("{} entries\n", tx.count(byCityAge));
  fmt::print("everyone in Paris, oldest first:\n");
  std::string paris = KeyEncoder().text("Paris").bytes();
  for (auto [key, value] : tx.scan(byCityAge, KeyRange::prefix(paris), Direction::Backward)) {
    fmt::print("  {} {}\n", formatKey(key), value);
  }
  fmt::print("Paris, age in [30, 61):\n");
  auto range = KeyRange::between(KeyEncoder().text("Paris").int64(30).bytes(), true,
                                 KeyEncoder().text("Paris").int64(61).bytes(), false);
  for (auto [key, value] : tx.scan(byCityAge, range)) fmt::print("  {} {}\n", formatKey(key), value);
  tx.release();

  try {
    env.write([&](WriteTxn& w) {
      w.put(byCityAge, KeyEncoder().text("Rome").int64(30).bytes(), "Linus");
      throw std::runtime_error("the app changed its mind");
    });
  } catch (const std::runtime_error& e) {
    fmt::print("a write threw ({}); entries still {}\n", e.what(), env.read().count(byCityAge));
  }

  // Write 20 MiB into a 1 MiB map: the map grows and the transactions are retried.
  Db blobs = env.write([](WriteTxn& w) { return w.createDb("blobs"); });
  std::string blob(4096, 'x');
  env.write([&](WriteTxn& w) {
    for (int64_t i = 0; i < 5000; ++i) w.put(blobs, KeyEncoder().int64(i).bytes(), blob);
  });
  fmt::print("wrote {} blobs of 4 KiB; the map grew to {} MiB\n", env.read().count(blobs),
             env.info().mapSize >> 20);
  return 0;
}
