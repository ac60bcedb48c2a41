// Migrations: the steps that carry a table's records from one schema version to the next.
//
// An app builds one Migrations registry and hands it to Database::open (Options::migrations);
// nothing registers itself. docs/migrations.md explains how to change a schema.
#pragma once

#include <capnp/any.h>
#include <capnp/dynamic.h>
#include <capnp/schema.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "capdb/options.h"

namespace capdb {

// A struct's fields by name, each name looked up once. Cap'n Proto's own by-name lookup decodes
// the schema on every call, which costs more than the rest of a simple step; StepRecord and
// StepBuilder use this instead. Immutable once built, so threads may share one.
class FieldNames {
 public:
  // Where a field lies, for reading and writing it straight from the struct's sections: a
  // number, a Bool or a Text outside any union or group. Other fields (type VOID here) go
  // through Cap'n Proto's dynamic API.
  struct Direct {
    capnp::schema::Type::Which type = capnp::schema::Type::VOID;
    uint32_t offset = 0;  // in units of the type's size (bits for Bool); a Text's pointer index
    uint64_t mask = 0;    // the default's bits: stored data is the value's bits XOR these
  };
  struct Entry {
    capnp::StructSchema::Field field;
    Direct direct;
  };

  explicit FieldNames(capnp::StructSchema schema);
  capnp::StructSchema schema() const { return schema_; }
  // The field named `name` (union members and groups included). Throws InvalidArgument naming
  // the struct and the field.
  capnp::StructSchema::Field find(std::string_view name) const { return entry(name).field; }
  const Entry& entry(std::string_view name) const;

 private:
  capnp::StructSchema schema_;
  std::vector<std::pair<std::string, Entry>> byName_;  // sorted by name
};

// The old record a C++ step reads: a capnp::DynamicStruct::Reader at the step's `from` version
// (and converts to one), whose by-name accessors resolve names through FieldNames. A step that
// declares its parameters as capnp::DynamicStruct::Reader/Builder works too, at Cap'n Proto's
// lookup speed.
class StepRecord {
 public:
  // `names` (optional) must be built for the record's schema and outlive this. Without it, names
  // are looked up through Cap'n Proto (a step called from an app's own unit test, say).
  StepRecord(capnp::DynamicStruct::Reader record, const FieldNames* names = nullptr)
      : record_(record), names_(names) {}

  // A number, Bool or Text outside unions and groups is read straight from the record's sections;
  // the value is the one Cap'n Proto's get() gives.
  capnp::DynamicValue::Reader get(std::string_view field) const;
  capnp::DynamicValue::Reader get(capnp::StructSchema::Field field) const { return record_.get(field); }
  bool has(std::string_view field, capnp::HasMode mode = capnp::HasMode::NON_NULL) const {
    return record_.has(find(field), mode);
  }
  bool has(capnp::StructSchema::Field field, capnp::HasMode mode = capnp::HasMode::NON_NULL) const {
    return record_.has(field, mode);
  }
  capnp::StructSchema::Field field(std::string_view name) const { return find(name); }
  kj::Maybe<capnp::StructSchema::Field> which() const { return record_.which(); }
  capnp::StructSchema getSchema() const { return record_.getSchema(); }
  capnp::DynamicStruct::Reader dynamic() const { return record_; }
  operator capnp::DynamicStruct::Reader() const { return record_; }

 private:
  capnp::StructSchema::Field find(std::string_view name) const;
  capnp::DynamicStruct::Reader record_;
  const FieldNames* names_;
};

// The new record a C++ step fills: a capnp::DynamicStruct::Builder at the step's `to` version
// (and converts to one), with by-name accessors resolved through FieldNames.
class StepBuilder {
 public:
  StepBuilder(capnp::DynamicStruct::Builder record, const FieldNames* names = nullptr)
      : record_(record), names_(names) {}

  capnp::DynamicValue::Builder get(std::string_view field) { return record_.get(find(field)); }
  capnp::DynamicValue::Builder get(capnp::StructSchema::Field field) { return record_.get(field); }
  // A number or Bool outside unions and groups is written straight into the record's data
  // section, after the same conversion and range check as Cap'n Proto's set().
  void set(std::string_view field, const capnp::DynamicValue::Reader& value);
  void set(capnp::StructSchema::Field field, const capnp::DynamicValue::Reader& value) {
    record_.set(field, value);
  }
  // A List field from its elements, as DynamicStruct::Builder::set does.
  void set(std::string_view field, std::initializer_list<capnp::DynamicValue::Reader> values) {
    record_.init(find(field), static_cast<unsigned>(values.size())).as<capnp::DynamicList>().copyFrom(values);
  }
  capnp::DynamicValue::Builder init(std::string_view field) { return record_.init(find(field)); }
  capnp::DynamicValue::Builder init(std::string_view field, unsigned size) {
    return record_.init(find(field), size);
  }
  bool has(std::string_view field, capnp::HasMode mode = capnp::HasMode::NON_NULL) {
    return record_.has(find(field), mode);
  }
  void clear(std::string_view field) { record_.clear(find(field)); }
  capnp::StructSchema::Field field(std::string_view name) const { return find(name); }
  kj::Maybe<capnp::StructSchema::Field> which() { return record_.which(); }
  capnp::StructSchema getSchema() const { return record_.getSchema(); }
  capnp::DynamicStruct::Reader asReader() const { return record_.asReader(); }
  capnp::DynamicStruct::Builder dynamic() { return record_; }
  operator capnp::DynamicStruct::Builder() { return record_; }

 private:
  capnp::StructSchema::Field find(std::string_view name) const;
  capnp::DynamicStruct::Builder record_;
  const FieldNames* names_;
};

class Migrations {
 public:
  // A step's C++ body: `old` is the record at the step's `from` version, read by field name;
  // `next` is the record at `to`, pre-filled with every field whose ordinal and type carry over.
  // A body may take capnp::DynamicStruct::Reader and ::Builder instead; StepRecord and
  // StepBuilder look names up once per schema rather than once per record, which makes a
  // simple step several times cheaper.
  using StepFn = std::function<void(StepRecord old, StepBuilder next)>;

  struct StepOptions {
    // The fields the step sets (dotted paths). Indexes over other fields keep their entries
    // through the migration, and this is checked: an eager rewrite or a drain that finds a
    // record whose key in such an index the step changed fails with MigrationFailed naming the
    // table, the record, the step, the field and the index, before anything of its batch is
    // written (capdb/testing.h's checkUpgrade checks lazy reads the same way). The indexes over
    // the fields it sets are rebuilt online, in every mode (docs/migrations.md). Empty: unknown,
    // so every index of the table is rebuilt. Naming a field of the
    // primary key makes the migration move every record to its new key (eager only;
    // docs/migrations.md); a step that changes the key without naming it fails with
    // MigrationFailed.
    std::vector<std::string> writes{};
    // The schema of version `to`, when `to` is not the app's newest version (a step in the middle
    // of a chain). Not needed for the last step.
    std::optional<capnp::StructSchema> target{};
    // The step cannot be applied on read (it is too slow to run per read, say): the migration
    // must run eagerly.
    bool requiresEager = false;
    // Checks the step against the schemas of its two versions when a database that needs it
    // opens; what it throws refuses the open. Default: none.
    std::function<void(capnp::StructSchema from, capnp::StructSchema to)> check{};
    // The MIGRATE statement of a declarative step (set by sql()); empty for C++ steps. A
    // migration whose steps are all declarative keeps them in the catalog, so that tools without
    // the app can read its old records and finish it.
    std::string sql{};
  };

  // Registers a step of `table` from version `from` to `to` (from < to). Throws InvalidArgument
  // for a second step from the same version of the same table.
  Migrations& step(std::string table, uint32_t from, uint32_t to, StepFn fn,
                   StepOptions options);
  Migrations& step(std::string table, uint32_t from, uint32_t to, StepFn fn);

  // Declarative steps, in the SQL expression language (docs/sql.md, docs/migrations.md):
  //   MIGRATE people FROM 1 TO 2
  //     SET first_name = substr(name, 1, instr(name, ' ') - 1),
  //         last_name  = substr(name, instr(name, ' ') + 1);
  // one or more, separated by ';'. Each SET expression reads the old record's fields by name;
  // the new record comes pre-filled like a C++ step's, and the SET fields are the step's
  // StepOptions::writes. Parsed here (SyntaxError with line and column); its names and types are
  // checked against the two versions' schemas when a database that needs the step opens
  // (InvalidArgument naming the column). A value that does not fit its field fails the
  // migration naming the table, the key and the step.
  Migrations& sql(std::string_view statements);

  // A step over generated Cap'n Proto types: `fn(Old::Reader old, New::Builder next)`, where Old
  // is the table's struct as it was at `from` and New as it is at `to` (capnp_generate_cpp
  // output; declare each version's struct in a .capnp of its own, with no $Db annotations). Fields
  // are reached by generated accessors rather than looked up by name, which makes eager rewrites
  // and lazy reads markedly faster. The records are read as Old and New as they lie, so the types
  // must have those versions' layouts (same ordinals and types); capdb cannot check that.
  template <typename Old, typename New, typename Fn>
  Migrations& typedStep(std::string table, uint32_t from, uint32_t to, Fn fn,
                        StepOptions options) {
    return step(
        std::move(table), from, to,
        [fn = std::move(fn)](capnp::DynamicStruct::Reader old, capnp::DynamicStruct::Builder next) {
          capnp::AnyStruct::Builder any(next);
          fn(capnp::AnyStruct::Reader(old).as<Old>(), any.as<New>());
        },
        std::move(options));
  }
  template <typename Old, typename New, typename Fn>
  Migrations& typedStep(std::string table, uint32_t from, uint32_t to, Fn fn) {
    return typedStep<Old, New>(std::move(table), from, to, std::move(fn), StepOptions{});
  }

  struct Step {
    std::string table;
    uint32_t from;
    uint32_t to;
    StepFn fn;
    StepOptions options;
  };
  // The steps of one table, by `from` version.
  const std::map<uint32_t, Step>* stepsOf(const std::string& table) const;

 private:
  std::map<std::string, std::map<uint32_t, Step>> steps_;
};

}  // namespace capdb
