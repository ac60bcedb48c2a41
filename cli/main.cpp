// The capdb command: inspect, query and upgrade databases offline. Each subcommand is a thin call
// into the library (capdb/capdb.h, capdb/admin.h); docs/cli.md walks through them.
// Exit codes: 0 success, 1 error (one line on stderr starting "capdb: error:"), 2 bad usage.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "capdb/admin.h"
#include "capdb/capdb.h"
#include "cli/csv.h"
#include "cli/output.h"
#include "cli/shell.h"
#include "cli/fail.h"

namespace capdb::cli {
namespace {

namespace fs = std::filesystem;

bool packRecords = false;  // --pack-records

// Options with --pack-records, and with the initial map size from CAPDB_MAP_SIZE (bytes), when set: a small map makes a
// command grow it as it writes, which the tests use to cross that boundary.
Options withMapSize(Options options) {
  if (const char* size = std::getenv("CAPDB_MAP_SIZE")) {
    char* end = nullptr;
    unsigned long long bytes = std::strtoull(size, &end, 10);
    require(end != size && *end == '\0' && bytes > 0, ErrorCode::InvalidArgument,
                  "CAPDB_MAP_SIZE must be a positive number of bytes, not '{}'", size);
    options.env.mapSize = bytes;
  }
  options.packRecords = packRecords;
  return options;
}

// The database at `path`, which must exist (only init creates one).
Database openExisting(const std::string& path, const Schemas& schemas = {}, const Options& options = {}) {
  require(fs::exists(fs::path(path) / "data.mdb"), ErrorCode::InvalidArgument,
                "no database at {} (capdb init creates one)", path);
  return Database::open(path, schemas, withMapSize(options));
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(in.good(), ErrorCode::IoError, "cannot read {}", path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<fs::path> paths(const std::vector<std::string>& dirs) {
  return std::vector<fs::path>(dirs.begin(), dirs.end());
}

std::string bytes(uint64_t n) {
  if (n >= (uint64_t{1} << 30)) return fmt::format("{:.1f} GiB", static_cast<double>(n) / (1 << 30));
  if (n >= (uint64_t{1} << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(n) / (1 << 20));
  if (n >= 1024) return fmt::format("{:.1f} KiB", static_cast<double>(n) / 1024);
  return fmt::format("{} bytes", n);
}

// ---- subcommands ----

int init(const std::string& db, const std::string& schema, const std::vector<std::string>& dirs) {
  Schemas schemas = parseSchemas(schema, paths(dirs));
  Database d = Database::open(db, schemas, withMapSize({}));
  for (const auto& t : status(d).tables) {
    fmt::print("table {}: version {}, {} records, {} indexes\n", t.name, t.version, t.records,
               t.indexes.size());
  }
  return 0;
}

int sql(const std::string& db, const std::string& statement, const std::string& format,
        const std::vector<std::string>& params) {
  Database d = openExisting(db);
  ShellOptions options;
  options.open = withMapSize({});
  options.format = parseFormat(format);
  for (const auto& p : params) addParam(options.params, p);
  if (!statement.empty()) {
    runStatement(d, statement, options, std::cout);
  } else if (isatty(STDIN_FILENO)) {
    interactive(d, options);
  } else {
    runScript(d, std::cin, options, std::cout);
  }
  return 0;
}

int import(const std::string& db, const std::string& table, const std::string& file,
           const std::string& format) {
  Database d = openExisting(db);
  std::ifstream in(file, std::ios::binary);
  require(in.good(), ErrorCode::IoError, "cannot read {}", file);
  uint64_t n = 0;
  if (format == "csv") {
    n = d.importCsv(table, in);
  } else {
    n = d.importJsonLines(table, in);
  }
  fmt::print("imported {} record{} into {}\n", n, n == 1 ? "" : "s", table);
  return 0;
}

int exportTable(const std::string& db, const std::string& table, const std::string& format,
                const std::string& where) {
  Database d = openExisting(db);
  DynamicTable t = d.table(table);
  try {
    if (format == "csv") {
      exportCsv(d, table, where, std::cout);
    } else {
      t.exportJsonLines(d.read(), std::cout, where);
    }
  } catch (const Error& e) {
    // The expression runs inside a statement the tool writes: say which part was the user's.
    if (where.empty() || e.code() == ErrorCode::IoError) throw;
    throw Error(e.code(), fmt::format("--where {}: {}", where, e.what()));
  }
  return 0;
}

std::string statusJson(const DatabaseStatus& s) {
  std::string out = fmt::format("{{\"path\":{},\"fileBytes\":{},\"mapBytes\":{},\"usedBytes\":{},\"tables\":[",
                                jsonValue(Value(s.path.string())), s.fileBytes, s.mapBytes, s.usedBytes);
  for (size_t i = 0; i < s.tables.size(); ++i) {
    const auto& t = s.tables[i];
    out += fmt::format("{}{{\"name\":{},\"version\":{},\"records\":{},\"recordBytes\":{},\"recordsByVersion\":{{",
                       i ? "," : "", jsonValue(Value(t.name)), t.version, t.records, t.recordBytes);
    size_t k = 0;
    for (const auto& [v, n] : t.recordsByVersion) out += fmt::format("{}\"{}\":{}", k++ ? "," : "", v, n);
    out += "},\"indexes\":[";
    for (size_t j = 0; j < t.indexes.size(); ++j) {
      const auto& ix = t.indexes[j];
      std::string fields;
      for (size_t f = 0; f < ix.fields.size(); ++f) fields += (f ? "," : "") + jsonValue(Value(ix.fields[f]));
      out += fmt::format("{}{{\"name\":{},\"fields\":[{}],\"unique\":{},\"state\":\"{}\",\"entries\":{},\"bytes\":{}",
                         j ? "," : "", jsonValue(Value(ix.name)), fields, ix.unique, ix.state, ix.entries,
                         ix.bytes);
      if (ix.state == "building") {
        out += fmt::format(",\"done\":{},\"total\":{},\"checkpoint\":{},\"waiting\":{}", ix.done,
                           ix.total, jsonValue(Value(ix.checkpoint)), ix.waiting);
      }
      if (!ix.duplicates.empty()) {
        out += ",\"duplicates\":[";
        for (size_t d = 0; d < ix.duplicates.size(); ++d) {
          out += (d ? "," : "") + jsonValue(Value(ix.duplicates[d]));
        }
        out += "]";
      }
      out += "}";
    }
    out += "]";
    if (t.migration) {
      out += fmt::format(",\"migration\":{{\"fromVersion\":{},\"phase\":\"{}\",\"done\":{},\"total\":{}}}",
                         t.migration->fromVersion, t.migration->phase, t.migration->done, t.migration->total);
    }
    out += "}";
  }
  return out + "]}\n";
}

// "ready"; "building: 1200 of 5000 records, up to (1200)"; "failed: key ... of records ...".
std::string indexState(const IndexStatus& i) {
  if (i.state == "building") {
    if (i.waiting) return "building: waits for the migration's checks";
    return fmt::format("building: {} of {} records{}; queries do not use it until it is ready "
                       "(capdb upgrade --mode eager, or the app's drain, fills it)",
                       i.done, i.total, i.checkpoint.empty() ? "" : ", up to " + i.checkpoint);
  }
  if (i.state == "failed") {
    std::string keys;
    for (const auto& d : i.duplicates) keys += (keys.empty() ? "" : "; ") + d;
    return fmt::format("failed, its keys repeat ({}); neither kept nor read: drop it from the "
                       "schema, or remove the duplicates and run capdb rebuild-index",
                       keys);
  }
  return i.state;
}

int showStatus(const std::string& db, bool json) {
  Database d = openExisting(db);
  DatabaseStatus s = status(d);
  if (json) {
    std::cout << statusJson(s);
    return 0;
  }
  fmt::print("database {}: file {}, map {} ({} used)\n", s.path.string(), bytes(s.fileBytes),
             bytes(s.mapBytes), bytes(s.usedBytes));
  for (const auto& t : s.tables) {
    std::string pk;
    for (const auto& f : t.primaryKey) pk += (pk.empty() ? "" : ", ") + f;
    fmt::print("table {}: version {}, {} records, primary key ({})\n", t.name, t.version, t.records, pk);
    for (const auto& [v, n] : t.recordsByVersion) {
      fmt::print("  version {}: {} records{}\n", v, n, v == t.version ? "" : " (old)");
    }
    for (const auto& i : t.indexes) {
      std::string fields;
      for (const auto& f : i.fields) fields += (fields.empty() ? "" : ", ") + f;
      fmt::print("  index {} ({}){}: {}\n", i.name, fields, i.unique ? " unique" : "",
                 indexState(i));
    }
    // Where the bytes go: each B-tree's pages, per record (per entry for an index).
    auto per = [](uint64_t bytes, uint64_t n) {
      return n == 0 ? std::string("") : fmt::format(" ({} bytes each)", (bytes + n / 2) / n);
    };
    std::string storage = fmt::format("records {}{}", bytes(t.recordBytes), per(t.recordBytes, t.records));
    for (const auto& i : t.indexes) {
      storage += fmt::format("; {} {}{}", i.name, bytes(i.bytes), per(i.bytes, i.entries));
    }
    fmt::print("  storage: {}\n", storage);
    if (t.migration) {
      fmt::print("  migration from version {} ({} phase): {} of {} records rewritten; the rest are "
                 "read through the migration's steps until an eager upgrade rewrites them\n",
                 t.migration->fromVersion, t.migration->phase, t.migration->done, t.migration->total);
    }
  }
  return 0;
}

int showDiff(const std::string& db, const std::string& schema, const std::vector<std::string>& dirs) {
  Database d = openExisting(db);
  auto diffs = diff(d, parseSchemas(schema, paths(dirs)));
  std::string skeleton;
  for (const auto& t : diffs) {
    if (!t.exists) {
      fmt::print("table {}: new (capdb init or the app's open creates it)\n", t.table);
      continue;
    }
    if (t.lines.empty()) {
      fmt::print("table {}: no changes (version {})\n", t.table, t.storedVersion);
      continue;
    }
    fmt::print("table {}: version {} -> {}\n", t.table, t.storedVersion, t.newVersion);
    for (const auto& line : t.lines) fmt::print("  {}\n", line);
    if (!t.needsStep) continue;
    std::string comments, sets;
    for (const auto& c : t.changes) {
      if (!c.needsStep) continue;
      comments += fmt::format("  -- {}: {}{}{}\n", c.field, c.kind, c.detail.empty() ? "" : ": ", c.detail);
      sets += fmt::format("{}{} = {}", sets.empty() ? "  SET " : ",\n      ", c.field, c.field);
    }
    skeleton += fmt::format("MIGRATE {} FROM {} TO {}\n{}{};\n", t.table, t.storedVersion,
                            std::max(t.newVersion, t.storedVersion + 1), comments, sets);
  }
  if (!skeleton.empty()) {
    fmt::print("\nA migration skeleton (edit the expressions; capdb upgrade --migrations FILE.sql):\n\n{}",
               skeleton);
  }
  return 0;
}

struct UpgradeArgs {
  std::string db, schema, migrations, mode = "eager", backupDir;
  std::vector<std::string> dirs;
  uint64_t batch = 0;
  uint64_t sample = 0;
  double maxRate = 0;
  bool dryRun = false;
  bool deferSync = false;
  unsigned threads = 0;
};

// Keeps the first `keep` records of each of `tables` (in primary-key order) and removes the rest,
// in one write transaction: a dry run over a sample works on what is left.
void keepSample(Database& d, const Schemas& tables, uint64_t keep) {
  d.write([&](WriteTxn& tx) {
    for (const auto& app : tables.tables) {
      auto table = d.findTable(app.name);
      if (!table) continue;
      std::vector<Key> drop;
      uint64_t seen = 0;
      for (auto scan = table->scan(tx); scan.valid(); scan.next()) {
        if (++seen > keep) drop.push_back(scan.key());
      }
      for (const auto& key : drop) table->remove(tx, key);
    }
  });
}

// Prints eager progress: a bar redrawn in place on a terminal, a line at most every second
// otherwise.
struct Progress {
  bool tty = isatty(STDERR_FILENO);
  std::chrono::steady_clock::time_point last{};
  std::map<std::string, uint64_t> done;

  void operator()(const MigrationProgress& p) {
    // The summary counts the records rewritten: the records and rekey passes.
    if (p.phase == "records" || p.phase == "rekey") done[p.table] = p.done;
    auto now = std::chrono::steady_clock::now();
    bool finished = p.done >= p.total;
    if (!tty && !finished && now - last < std::chrono::seconds(1)) return;
    last = now;
    double pct = p.total ? 100.0 * static_cast<double>(p.done) / static_cast<double>(p.total) : 100;
    // Say which pass this is: a move to new primary keys, an index build, or a copy back of a
    // migration an earlier build left installing or replacing records.
    bool moving = p.phase == "rekey" || p.phase == "install";
    std::string label = moving                  ? fmt::format("{} ({})", p.table, p.phase)
                        : p.phase == "replace" ? fmt::format("{} (replacing the old records)", p.table)
                        : p.phase == "indexes" ? fmt::format("{} (index build)", p.table)
                                               : p.table;
    if (tty) {
      int filled = static_cast<int>(pct / 5);
      fmt::print(stderr, "\r{} [{}{}] {:5.1f}% {}/{} {:.0f} rec/s ETA {:.0f}s   ", label,
                 std::string(filled, '#'), std::string(20 - filled, ' '), pct, p.done, p.total,
                 p.recordsPerSecond, p.etaSeconds);
      if (finished) fmt::print(stderr, "\n");
    } else {
      fmt::print(stderr, "{}: {}/{} records ({:.1f}%), {:.0f} rec/s, ETA {:.0f}s\n", label, p.done,
                 p.total, pct, p.recordsPerSecond, p.etaSeconds);
    }
  }
};

// Set by SIGINT and SIGTERM during an eager upgrade: it stops after the batch in flight
// (EagerOptions::stop), resumable.
std::atomic<bool> stopRequested{false};

void requestStop(int) { stopRequested.store(true); }

// Routes SIGINT and SIGTERM to requestStop while it lives (when `on`), and back to what they
// were after. The first of them asks for the stop; a second ends the process as it would have
// (SA_RESETHAND). A signal the process was started ignoring stays ignored.
class StopOnSignals {
 public:
  explicit StopOnSignals(bool on) : on_(on) {
    if (!on_) return;
    route(SIGINT, int_);
    route(SIGTERM, term_);
  }
  ~StopOnSignals() {
    if (!on_) return;
    sigaction(SIGINT, &int_, nullptr);
    sigaction(SIGTERM, &term_, nullptr);
  }
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;

 private:
  static void route(int signal, struct sigaction& was) {
    sigaction(signal, nullptr, &was);
    if (was.sa_handler == SIG_IGN) return;
    struct sigaction stop {};
    stop.sa_handler = requestStop;
    sigemptyset(&stop.sa_mask);
    stop.sa_flags = SA_RESTART | SA_RESETHAND;  // a write or fsync in flight goes on
    sigaction(signal, &stop, nullptr);
  }

  bool on_;
  struct sigaction int_ {}, term_ {};
};

int upgrade(const UpgradeArgs& a) {
  Schemas schemas = parseSchemas(a.schema, paths(a.dirs));
  Migrations migrations;
  if (!a.migrations.empty()) migrations.sql(readFile(a.migrations));
  require(a.mode == "eager" || a.mode == "lazy", ErrorCode::InvalidArgument,
                "--mode {}: eager or lazy", a.mode);
  if (!a.backupDir.empty()) {
    Database d = openExisting(a.db);
    backup(d, a.backupDir, true);
    fmt::print("backed up to {}\n", a.backupDir);
  }
  std::string target = a.db;
  fs::path scratch;
  if (a.dryRun) {
    // The steps run over a compacted copy, which is then dropped: the database is not touched.
    scratch = fs::temp_directory_path() / fmt::format("capdb-dry-run-{}", getpid());
    fs::remove_all(scratch);
    Database d = openExisting(a.db);
    backup(d, scratch, true);
    target = scratch.string();
    for (const auto& t : schemas.tables) {
      if (!d.findTable(t.name)) continue;
      fmt::print("first records of {} before the steps:\n", t.name);
      printResult(d.query(fmt::format("SELECT * FROM {} LIMIT 3", quoteName(t.name))), Format::Jsonl,
                  std::cout);
    }
  }
  require(a.sample == 0 || a.dryRun, ErrorCode::InvalidArgument, "--sample needs --dry-run");
  if (a.sample > 0) {
    Database copy = openExisting(target);
    keepSample(copy, schemas, a.sample);
    fmt::print("dry run over the first {} records of each table\n", a.sample);
  }
  Options options;
  options.migrations = &migrations;
  options.mode = a.mode == "lazy" ? MigrationMode::Lazy : MigrationMode::Eager;
  if (a.batch > 0) options.eager.batchRecords = a.batch;
  options.eager.maxRecordsPerSecond = a.maxRate;
  options.eager.deferSync = a.deferSync;
  if (a.threads > 0) options.eager.threads = a.threads;
  // A resumed upgrade reports only what this run rewrote.
  std::map<std::string, uint64_t> doneBefore;
  {
    Database d = openExisting(target);
    for (const auto& t : status(d).tables) {
      if (t.migration && (t.migration->phase == "records" || t.migration->phase == "rekey")) {
        doneBefore[t.name] = t.migration->done;
      }
    }
  }
  Progress progress;
  options.eager.progress = [&](const MigrationProgress& p) { progress(p); };
  options.eager.stop = &stopRequested;
  // Only an eager upgrade of the database itself stops resumably; a lazy one is instant, and a
  // dry run's copy goes anyway.
  StopOnSignals signals(a.mode == "eager" && !a.dryRun);
  auto start = std::chrono::steady_clock::now();
  try {
    Database d = openExisting(target, schemas, options);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    uint64_t migrated = 0;
    for (const auto& [table, n] : progress.done) migrated += n - std::min(n, doneBefore[table]);
    if (a.mode == "lazy") {
      fmt::print("recorded the new schema versions; {} records will be upgraded as they are read "
                 "or written (capdb upgrade --mode eager rewrites them)\n",
                 d.oldRecords());
      for (const auto& t : status(d).tables) {
        for (const auto& i : t.indexes) {
          if (i.state != "building") continue;
          fmt::print("index {} of {} is building: every write keeps it, queries use it once "
                     "capdb upgrade --mode eager (or the app's drain) has filled it\n",
                     i.name, t.name);
        }
      }
    } else {
      fmt::print("{}{} records migrated in {:.3f} s ({:.0f} records/s)\n", a.dryRun ? "dry run: " : "",
                 migrated, seconds, seconds > 0 ? static_cast<double>(migrated) / seconds : 0.0);
    }
    if (a.dryRun) {
      for (const auto& t : schemas.tables) {
        auto after = d.query(fmt::format("SELECT * FROM {} LIMIT 3", quoteName(t.name)));
        fmt::print("first records of {} after the steps:\n", t.name);
        printResult(after, Format::Jsonl, std::cout);
      }
      fmt::print("dry run: nothing was written to {}\n", a.db);
    }
  } catch (const Error& e) {
    if (!scratch.empty()) fs::remove_all(scratch);
    if (e.code() != ErrorCode::Interrupted) throw;
    if (progress.tty) fmt::print(stderr, "\n");
    fmt::print(stderr, "capdb: interrupted: {}\n", e.what());
    return 130;  // as a shell reports a command that SIGINT ended
  } catch (...) {
    if (!scratch.empty()) fs::remove_all(scratch);
    throw;
  }
  if (!scratch.empty()) fs::remove_all(scratch);
  return 0;
}

int verifyDb(const std::string& db) {
  require(fs::exists(fs::path(db) / "data.mdb"), ErrorCode::InvalidArgument,
                "no database at {} (capdb init creates one)", db);
  // The file's pages before anything opens it: LMDB aborts on some damage.
  VerifyReport pages = verifyPages(db);
  if (!pages.ok()) {
    for (const auto& p : pages.problems) fmt::print("problem: {}\n", p);
    fmt::print("the file is damaged: {} problems; nothing else was checked\n", pages.problems.size());
    return 1;
  }
  Database d = openExisting(db);
  VerifyReport r = verify(d);
  for (const auto& n : r.notes) fmt::print("note: {}\n", n);
  for (const auto& p : r.problems) fmt::print("problem: {}\n", p);
  fmt::print("{} records, {} index entries checked: {}\n", r.records, r.indexEntries,
             r.ok() ? "ok" : fmt::format("{} problems", r.problems.size()));
  return r.ok() ? 0 : 1;
}

int rebuildIndex(const std::string& db, const std::string& table, const std::string& index) {
  Database d = openExisting(db);
  d.rebuildIndex(table, index);
  fmt::print("index {} of {} is building; capdb upgrade --mode eager (or the app's drain) fills "
             "it\n", index, table);
  return 0;
}

int compactDb(const std::string& db) {
  Database d = openExisting(db);
  uint64_t before = 0, after = 0;
  for (const auto& t : compact(d)) {
    before += t.bytesBefore;
    after += t.bytesAfter;
    std::string tree = t.index.empty() ? "records" : "index " + t.index;
    fmt::print("table {}, {}: {} -> {}", t.table, tree, bytes(t.bytesBefore), bytes(t.bytesAfter));
    if (t.entries > 0) {
      fmt::print(" ({} -> {} bytes each)", t.bytesBefore / t.entries, t.bytesAfter / t.entries);
    }
    fmt::print("\n");
  }
  fmt::print("compacted {}: {} -> {} of pages; the freed pages are reused by later writes "
             "(capdb backup --compact writes a copy without them)\n", db, bytes(before), bytes(after));
  return 0;
}

int backupDb(const std::string& db, const std::string& dest, bool compact) {
  Database d = openExisting(db);
  backup(d, dest, compact);
  fmt::print("backed up {} to {}{}\n", db, dest, compact ? " (compacted)" : "");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"capdb: inspect, query and upgrade capdb databases (docs/cli.md)", "capdb"};
  app.require_subcommand(1);
  app.add_flag("--pack-records", cli::packRecords,
               "Pack the records this command writes (smaller, slower to scan: docs/format.md)");
  std::function<int()> run;

  std::string db, schema, table, file, statement, where, dest;
  std::string sqlFormat, importFormat, exportFormat;  // one each: CLI11 writes defaults at once
  std::vector<std::string> dirs, params;
  bool json = false, compact = false;
  UpgradeArgs up;

  auto* init = app.add_subcommand("init", "Create a database, or add tables to one, from a schema file");
  init->add_option("DB", db, "The database directory")->required();
  init->add_option("--schema", schema, "A .capnp file declaring tables with $Db.table")->required();
  init->add_option("-I,--import-path", dirs, "A directory for the schema's absolute imports");
  init->callback([&] { run = [&] { return cli::init(db, schema, dirs); }; });

  auto* sqlCmd = app.add_subcommand(
      "sql", "Run a statement; with none, the ';'-separated statements on standard input, or an "
             "interactive shell on a terminal");
  sqlCmd->add_option("DB", db, "The database directory")->required();
  sqlCmd->add_option("STATEMENT", statement, "One SQL statement (docs/sql.md)");
  sqlCmd->add_option("--format", sqlFormat, "table, csv, json or jsonl")
      ->default_val("table")
      ->check(CLI::IsMember({"table", "csv", "json", "jsonl"}));
  sqlCmd->add_option("--param", params, "NAME=VALUE for :NAME, or N=VALUE for ?N (repeatable)");
  sqlCmd->callback([&] { run = [&] { return cli::sql(db, statement, sqlFormat, params); }; });

  auto* importCmd = app.add_subcommand("import", "Insert the records of a file, all or nothing");
  importCmd->add_option("DB", db, "The database directory")->required();
  importCmd->add_option("TABLE", table, "The table")->required();
  importCmd->add_option("FILE", file, "The records: JSON Lines or CSV with a header row")->required();
  importCmd->add_option("--format", importFormat, "jsonl or csv")
      ->default_val("jsonl")
      ->check(CLI::IsMember({"jsonl", "csv"}));
  importCmd->callback([&] { run = [&] { return cli::import(db, table, file, importFormat); }; });

  auto* exportCmd = app.add_subcommand("export", "Write a table's records to standard output");
  exportCmd->add_option("DB", db, "The database directory")->required();
  exportCmd->add_option("TABLE", table, "The table")->required();
  exportCmd->add_option("--format", exportFormat, "jsonl or csv")
      ->default_val("jsonl")
      ->check(CLI::IsMember({"jsonl", "csv"}));
  exportCmd->add_option("--where", where, "Only the records for which this SQL expression holds");
  exportCmd->callback([&] { run = [&] { return cli::exportTable(db, table, exportFormat, where); }; });

  auto* statusCmd = app.add_subcommand(
      "status", "Tables, schema versions, records per version, indexes, migrations, sizes");
  statusCmd->add_option("DB", db, "The database directory")->required();
  statusCmd->add_flag("--json", json, "As one JSON object");
  statusCmd->callback([&] { run = [&] { return cli::showStatus(db, json); }; });

  auto* diffCmd = app.add_subcommand(
      "diff", "The changes from the stored schemas to a schema file, and a migration skeleton");
  diffCmd->add_option("DB", db, "The database directory")->required();
  diffCmd->add_option("--schema", schema, "The new .capnp file")->required();
  diffCmd->add_option("-I,--import-path", dirs, "A directory for the schema's absolute imports");
  diffCmd->callback([&] { run = [&] { return cli::showDiff(db, schema, dirs); }; });

  auto* upgradeCmd = app.add_subcommand(
      "upgrade", "Bring a database to a schema file's versions, eagerly (resumable) or lazily");
  upgradeCmd->add_option("DB", up.db, "The database directory")->required();
  upgradeCmd->add_option("--schema", up.schema, "The new .capnp file")->required();
  upgradeCmd->add_option("-I,--import-path", up.dirs, "A directory for the schema's absolute imports");
  upgradeCmd->add_option("--migrations", up.migrations, "A file of MIGRATE ... SET ... steps");
  upgradeCmd->add_option("--mode", up.mode, "eager (rewrite now, resumable) or lazy (on read)")
      ->default_val("eager")
      ->check(CLI::IsMember({"eager", "lazy"}));
  upgradeCmd->add_option("--batch", up.batch, "Records per batch (one transaction each)");
  upgradeCmd->add_option("--max-rate", up.maxRate, "At most this many records per second");
  upgradeCmd->add_flag("--dry-run", up.dryRun, "Run the steps over a copy; write nothing");
  upgradeCmd->add_flag("--defer-sync", up.deferSync,
                       "Sync once at the end, not after every batch (offline: a power loss while it "
                       "runs may lose or damage the database; take a --backup)");
  upgradeCmd->add_option("--threads", up.threads,
                         "Threads that upgrade each batch's records (default 2)")
      ->check(CLI::Range(1u, 64u));
  upgradeCmd->add_option("--sample", up.sample, "With --dry-run: only the first N records of each table");
  upgradeCmd->add_option("--backup", up.backupDir, "Take a compacted copy into this directory first");
  upgradeCmd->callback([&] { run = [&] { return cli::upgrade(up); }; });

  auto* verifyCmd = app.add_subcommand(
      "verify", "Check every record and index entry and the catalog's counts; exit 1 on a problem");
  verifyCmd->add_option("DB", db, "The database directory")->required();
  verifyCmd->callback([&] { run = [&] { return cli::verifyDb(db); }; });

  std::string index;
  auto* rebuildCmd = app.add_subcommand(
      "rebuild-index", "Start an index's build again from nothing (after a failed unique build)");
  rebuildCmd->add_option("DB", db, "The database directory")->required();
  rebuildCmd->add_option("TABLE", table, "The table")->required();
  rebuildCmd->add_option("INDEX", index, "The index")->required();
  rebuildCmd->callback([&] { run = [&] { return cli::rebuildIndex(db, table, index); }; });

  auto* compactCmd = app.add_subcommand(
      "compact", "Rewrite every table's records and indexes into full pages");
  compactCmd->add_option("DB", db, "The database directory")->required();
  compactCmd->callback([&] { run = [&] { return cli::compactDb(db); }; });

  auto* backupCmd = app.add_subcommand("backup", "Write a consistent copy of a database");
  backupCmd->add_option("DB", db, "The database directory")->required();
  backupCmd->add_option("DEST", dest, "A new or empty directory")->required();
  backupCmd->add_flag("--compact", compact, "Drop free pages");
  backupCmd->callback([&] { run = [&] { return cli::backupDb(db, dest, compact); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    return run();
  } catch (const Error& e) {
    std::cout.flush();
    std::string message = e.what();
    for (size_t at = message.find('\n'); at != std::string::npos; at = message.find('\n', at)) {
      message.replace(at, 1, "; ");
    }
    // The library's advice names its C++ calls; say what they are on the command line.
    if (message.find("Migrations::") != std::string::npos ||
        message.find("Options::migrations") != std::string::npos) {
      message += " [with capdb: give the steps as MIGRATE statements in capdb upgrade --migrations "
                 "FILE.sql; capdb diff prints a skeleton]";
    } else if (message.find("MigrationMode::Eager") != std::string::npos) {
      message += " [with capdb: capdb upgrade --mode eager]";
    }
    std::cerr << "capdb: error: " << message << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "capdb: error: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace capdb::cli

int main(int argc, char** argv) { return capdb::cli::main(argc, argv); }
