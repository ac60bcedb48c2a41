// capdb/admin.h: compact(), each B-tree rewritten into filled pages (engine::WriteTxn::repack).
#include "capdb/admin.h"

#include "db/database_state.h"
#include "orm/disk_names.h"
#include "orm/table_core.h"

namespace capdb {

std::vector<CompactedTree> compact(Database& db) {
  std::vector<CompactedTree> out;
  for (const auto& name : db.tableNames()) {
    std::vector<std::string> trees = {""};
    for (const auto& index : internal::core(db.table(name)).indexes()) {
      trees.push_back(index.schema.name);
    }
    for (const auto& index : trees) {
      CompactedTree t{name, index};
      db.write([&](WriteTxn& tx) {
        // Looked up inside the transaction: its start reloads the catalog if another process
        // changed it.
        const orm::TableCore& core = internal::core(db.table(name));
        const engine::Db& tree = index.empty() ? core.records(tx) : core.index(index).db;
        engine::WriteTxn& etx = internal::engineWrite(tx);
        auto before = etx.stat(tree);
        t.entries = before.entries;
        t.bytesBefore = before.bytes();
        etx.repack(tree, orm::kRepackDbName);
        t.bytesAfter = etx.stat(tree).bytes();
      });
      out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace capdb
