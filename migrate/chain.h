// TableChain: the orm::Upgrader of one table, built from the app's steps and the catalog's stored
// schema versions. For each old version present in the table it holds the chain of links that
// carries a record to the newest version: steps (the app's functions) and reinterpretations
// (reading the same bytes with a later, wire-compatible schema, which costs nothing).
#pragma once

#include <capnp/dynamic.h>

#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "capdb/migrations.h"
#include "orm/catalog.h"
#include "orm/record_codec.h"
#include "orm/stored_schema.h"
#include "orm/table_schema.h"
#include "orm/upgrader.h"

namespace capdb::migrate {

// Copies into `next` every field of `old` whose ordinal and type carry over (through groups and
// unions; a union member only when it is the active one).
void prefill(capnp::DynamicStruct::Reader old, capnp::DynamicStruct::Builder next);

// How a step's `next` record is pre-filled from `old`, planned once per pair of schemas: when
// every old field lies in the new struct exactly as before, the old struct is copied as it is
// (a copy of its sections); otherwise field by field: by planned copies of bits and pointers
// when neither version has groups or unions, through the dynamic API (prefill) when one has.
struct PrefillPlan {
  bool raw = false;
  bool planned = false;
  struct DataCopy {
    uint32_t from, to;  // byte offsets in the data sections
    uint8_t bytes;
    uint64_t flip;      // the old default's bits XOR the new one's: the value, not the bits, carries over
  };
  struct BitCopy {
    uint32_t from, to;  // bit offsets
    bool flip;
  };
  struct PointerCopy {
    uint16_t from, to;  // pointer indexes
    // Set when the default changed: an unset old value is written out as the old default, so
    // that it does not start reading as the new one.
    std::optional<capnp::StructSchema::Field> oldDefault;
  };
  std::vector<DataCopy> data;
  std::vector<BitCopy> bits;
  std::vector<PointerCopy> pointers;
};
PrefillPlan planPrefill(capnp::StructSchema from, capnp::StructSchema to);
// Applies a planned PrefillPlan (plan.planned): `next` must be freshly initialised (zero).
void applyPrefill(const PrefillPlan& plan, capnp::DynamicStruct::Reader old,
                  capnp::DynamicStruct::Builder next);

// One stored schema version of a table, or nullopt when the catalog has none: how a chain reads
// the catalog, so that a caller can plan without a transaction (or a test from its own schemas).
using SchemaLookup = std::function<std::optional<orm::StoredSchema>(uint32_t version)>;

class TableChain : public orm::Upgrader {
 public:
  // Plans chains from every version in `versions` (all older than app.version) to app.version.
  // Throws SchemaMismatch naming the table, the field and the change when a gap has no step and is
  // not wire-compatible, or InvalidArgument when a middle step lacks its target schema. `stored`
  // is called only while the constructor runs.
  TableChain(const orm::TableSchema& app, const std::map<uint32_t, Migrations::Step>* steps,
             const SchemaLookup& stored, const std::set<uint32_t>& versions);

  capnp::StructSchema readSchema(uint32_t version) const override;
  bool needsSteps(uint32_t version) const override;
  bool mayChangeKey(uint32_t version, const std::vector<std::string>& keyFields) const override;
  std::string stepNames(uint32_t version) const override;
  capnp::AnyStruct::Reader upgrade(uint32_t version, capnp::DynamicStruct::Reader old,
                                   std::string_view pk, capnp::MessageBuilder& out) const override;

  // The steps any chain uses.
  const std::vector<const Migrations::Step*>& steps() const { return usedSteps_; }

 private:
  struct Link {
    const Migrations::Step* step;  // nullptr: reinterpret the record as layout.schema
    orm::StructLayout layout;      // the record's schema after this link, with its sizes
    PrefillPlan prefill;           // steps: from the previous schema to layout.schema
    const FieldNames* fromNames = nullptr;  // steps: the previous schema's field names
    const FieldNames* toNames = nullptr;    // steps: layout.schema's
  };
  struct Chain {
    capnp::StructSchema read;  // the stored bytes are read with this schema
    std::vector<Link> links;
  };

  std::string table_;
  capnp::StructSchema newest_;
  std::map<uint32_t, Chain> chains_;
  std::vector<const Migrations::Step*> usedSteps_;
  std::vector<std::shared_ptr<const void>> owners_;  // the loaders of stored schemas
  std::vector<std::unique_ptr<FieldNames>> names_;   // one per schema a step reads or fills

  const FieldNames* namesOf(capnp::StructSchema schema);
};

// Migrations::plan with stored schemas read through `stored`: the upgrader that carries records of
// `versions` to app.version through `registry`'s steps for the table, with the steps it runs in
// `used` (when given). Throws as TableChain's constructor does.
std::shared_ptr<const orm::Upgrader> planUpgrade(const Migrations& registry,
                                                 const orm::TableSchema& app,
                                                 const SchemaLookup& stored,
                                                 const std::set<uint32_t>& versions,
                                                 std::vector<const Migrations::Step*>* used);

}  // namespace capdb::migrate
