// The names capdb gives things on disk: its LMDB databases and the keys of its catalog. They are
// defined here and nowhere else; docs/format.md says what each one holds. A name changed here is
// a change of the file format.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace capdb::orm {

// ---- LMDB databases ----

// The catalog (orm/catalog.h).
inline constexpr std::string_view kCatalogDbName = "capdb:catalog";
// A table's records, primary key -> record, in one of two databases: tree 0 "table:<table>",
// tree 1 "table.1:<table>". The catalog entry says which holds them (TableInfo::recordsTree); an
// undoable migration fills the other and swaps them.
std::string tableDbName(std::string_view table, uint32_t tree = 0);
// "index:<table>:<index>": one secondary index of a table.
std::string indexDbName(std::string_view table, std::string_view index);
// "capdb:check:<table>:<index>": while a migration checks a rebuilt unique index.
std::string checkDbName(std::string_view table, std::string_view index);
// "capdb:repack": inside a transaction that rewrites a tree into filled pages
// (engine::WriteTxn::repack); dropped before it commits.
inline constexpr std::string_view kRepackDbName = "capdb:repack";
// "capdb:rekey:<table>": while a migration moves a table's records to new primary keys.
std::string rekeyDbName(std::string_view table);
// "capdb:rewrite:<table>": while an eager migration that can be undone rewrites a table's
// records, their new versions, until they replace the old ones.
std::string rewriteDbName(std::string_view table);

// ---- keys of the catalog database (memcomparable, engine/key_codec.h) ----

// ("format"): the catalog's format version.
std::string catalogFormatKey();
// ("generation"): the catalog's generation. Read at the start of every transaction, so made once;
// the reference stays valid for the program's life.
const std::string& catalogGenerationKey();
// ("table", name): a table's entry. catalogTablePrefix() starts the keys of every entry.
std::string catalogTableKey(std::string_view table);
std::string catalogTablePrefix();
// ("schema", name, version): one stored schema version of a table. catalogSchemaPrefix(table)
// starts the keys of every version of that table; the version follows it, an unsigned integer.
std::string catalogSchemaKey(std::string_view table, uint32_t version);
std::string catalogSchemaPrefix(std::string_view table);

}  // namespace capdb::orm
