#include "cli/csv.h"

#include <fmt/format.h>

#include "cli/output.h"

namespace capdb::cli {

uint64_t exportCsv(Database& db, const std::string& table, const std::string& where,
                   std::ostream& out) {
  DynamicTable t = db.table(table);
  std::string order;
  for (const auto& f : t.schema().primaryKey) order += (order.empty() ? "" : ", ") + quoteName(f.dotted);
  std::string sql = fmt::format("SELECT * FROM {}{} ORDER BY {}", quoteName(table),
                                where.empty() ? "" : " WHERE " + where, order);
  ResultSet rs = db.query(sql);
  printResult(rs, Format::Csv, out);
  return rs.rows.size();
}

}  // namespace capdb::cli
