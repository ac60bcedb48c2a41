// Built by install_test.cmake from nothing but `pkg-config --cflags --libs capdb` against an
// installed capdb, so that every layer library and dependency has to be on the link line:
// opens a database with no tables in DIR and runs SQL against a table it lacks.
//   pkg_config_main DIR    exits 0 when the query is refused with a capdb::Error
#include <capdb/capdb.h>

#include <cstdio>
#include <filesystem>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pkg_config_main DIR\n");
    return 2;
  }
  auto db = capdb::Database::open(std::filesystem::path(argv[1]) / "empty.capdb");
  try {
    db.query("SELECT * FROM nowhere");
  } catch (const capdb::Error& e) {
    std::printf("refused: %s\n", e.what());
    return 0;
  }
  std::fprintf(stderr, "pkg_config_main: a query of a missing table succeeded\n");
  return 1;
}
