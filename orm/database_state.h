// Database's internal state, shared by orm/database.cpp (transactions, tables) and
// orm/database_open.cpp (opening and reconciling with the catalog). Internal to the library.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "capdb/capdb.h"
#include "orm/catalog.h"
#include "orm/table_core.h"

namespace capdb {

struct Database::State {
  explicit State(engine::Env e) : env(std::move(e)) {}
  engine::Env env;
  std::optional<orm::Catalog> catalog;
  std::mutex catalogMutex;  // guards catalog's cached entries after open
  // Declarative steps kept in the catalog by pending migrations, for the tables that read
  // through them (their upgraders point into these, so they are declared before the tables).
  std::vector<std::unique_ptr<Migrations>> storedSteps;
  std::map<std::string, std::unique_ptr<orm::TableCore>, std::less<>> tables;
  std::vector<std::string> appTables;
  EagerOptions eager;
};

}  // namespace capdb
