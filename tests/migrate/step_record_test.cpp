// StepRecord and StepBuilder read numbers, Bools and Text straight from a record's sections and
// write numbers and Bools straight into them: the values, stored bits and errors must be those
// of Cap'n Proto's DynamicStruct get() and set(), for every type, with and without defaults, on
// records of an older (shorter) layout, and for the fields that go through Cap'n Proto instead.
#include <gtest/gtest.h>

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <string>
#include <vector>

#include "capdb/migrations.h"
#include "orm/record_codec.h"
#include "support/schema_text.h"
#include "support/temp_dir.h"

namespace capdb {
namespace {

constexpr const char* kFields =
    "b @0 :Bool; i8 @1 :Int8; i16 @2 :Int16; i32 @3 :Int32; i64 @4 :Int64; u8 @5 :UInt8; "
    "u16 @6 :UInt16; u32 @7 :UInt32; u64 @8 :UInt64; f32 @9 :Float32; f64 @10 :Float64; "
    "t @11 :Text; "
    "bd @12 :Bool = true; i8d @13 :Int8 = -5; i16d @14 :Int16 = 300; i32d @15 :Int32 = -70000; "
    "i64d @16 :Int64 = 5000000000; u8d @17 :UInt8 = 200; u16d @18 :UInt16 = 60000; "
    "u32d @19 :UInt32 = 4000000000; u64d @20 :UInt64 = 18000000000000000000; "
    "f32d @21 :Float32 = 1.5; f64d @22 :Float64 = -2.25; td @23 :Text = \"dflt\"; "
    "e @24 :Color; g :group { gi @25 :Int32; } union { ua @26 :Int32; ub @27 :Text; }";
constexpr const char* kExtra = "enum Color { red @0; green @1; }\n";

std::vector<std::string> fieldNames(capnp::StructSchema s) {
  std::vector<std::string> out;
  for (auto f : s.getFields()) out.emplace_back(f.getProto().getName().cStr());
  return out;
}

std::string bytesOf(capnp::MessageBuilder& m) {
  auto words = capnp::messageToFlatArray(m);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

std::string show(const capnp::DynamicValue::Reader& v) { return kj::str(v).cStr(); }

// The value a read gives, or that it throws (an inactive union member does).
template <typename Read>
std::string shown(Read read) {
  try {
    return show(read());
  } catch (const kj::Exception&) {
    return "<throws>";
  }
}

class StepRecordTest : public ::testing::Test {
 protected:
  capnp::StructSchema parse(const std::string& name, const std::string& fields) {
    files_.push_back(::capdb::testing::parseText(
        dir_, name + ".capnp",
        "struct R $Db.table(\"r\") $Db.primaryKey([\"i8\"]) { " + fields + " }\n" + kExtra));
    return files_.back().tables[0].schema;
  }
  ::capdb::testing::TempDir dir_;
  std::vector<orm::SchemaFile> files_;
};

TEST_F(StepRecordTest, ReadsEveryFieldAsCapnProtoDoes) {
  capnp::StructSchema schema = parse("full", kFields);
  FieldNames names(schema);
  capnp::MallocMessageBuilder message;
  auto r = message.initRoot<capnp::DynamicStruct>(schema);
  // Unset: every default. Then values of every sign and size.
  for (int round = 0; round < 2; ++round) {
    for (const auto& name : fieldNames(schema)) {
      StepRecord direct(r.asReader(), &names);
      EXPECT_EQ(shown([&] { return direct.get(name); }), shown([&] { return r.asReader().get(name); }))
          << name << " round " << round;
    }
    r.set("b", true);
    r.set("i8", -128);
    r.set("i16", -2);
    r.set("i32", 123456);
    r.set("i64", -5);
    r.set("u8", 255);
    r.set("u16", 7);
    r.set("u32", 4294967295u);
    r.set("u64", uint64_t{18446744073709551615u});
    r.set("f32", 0.1f);
    r.set("f64", -0.0);
    r.set("t", "text");
    r.set("bd", false);
    r.set("i8d", 0);
    r.set("u64d", 1);
    r.set("f64d", 1e300);
    r.set("td", "");
    r.set("e", capnp::DynamicEnum(schema.getFieldByName("e").getType().asEnum(), 1));
    r.set("ua", 9);
  }
}

TEST_F(StepRecordTest, AnOlderShorterRecordReadsTheNewFieldsDefaults) {
  capnp::StructSchema old = parse("old", "b @0 :Bool; i8 @1 :Int8;");
  capnp::StructSchema schema = parse("full", kFields);
  capnp::MallocMessageBuilder message;
  auto r = message.initRoot<capnp::DynamicStruct>(old);
  r.set("i8", 7);
  // The old record viewed through the new schema, as a lazy read does: its sections are shorter.
  auto viewed = capnp::AnyStruct::Reader(r.asReader()).as<capnp::DynamicStruct>(schema);
  FieldNames names(schema);
  for (const auto& name : fieldNames(schema)) {
    EXPECT_EQ(shown([&] { return StepRecord(viewed, &names).get(name); }),
              shown([&] { return viewed.get(name); }))
        << name;
  }
}

TEST_F(StepRecordTest, WritesEveryFieldAsCapnProtoDoesAndRefusesWhatItRefuses) {
  capnp::StructSchema schema = parse("full", kFields);
  FieldNames names(schema);
  struct Case {
    const char* field;
    capnp::DynamicValue::Reader value;
  };
  std::vector<Case> cases = {
      {"b", true},          {"i8", -3},          {"i16", 32767},       {"i32", -1},
      {"i64", int64_t{-9}}, {"u8", 255},         {"u16", 65535},       {"u32", 123u},
      {"u64", uint64_t{1} << 63}, {"f32", 2.5f}, {"f64", 3.25},         {"bd", false},
      {"bd", true},         {"i8d", -5},         {"i16d", 1},          {"i32d", 0},
      {"i64d", int64_t{5000000000}}, {"u8d", 0}, {"u16d", 1},         {"u32d", 4000000000u},
      {"u64d", uint64_t{0}}, {"f32d", 1.5f},     {"f64d", -0.0},       {"f64d", 0.5},
      {"u8", 7.0},          {"f32", 3},          {"t", "via capnp"},   {"ua", 4},
      {"ub", "member"},
  };
  for (const auto& c : cases) {
    capnp::MallocMessageBuilder a, b;
    auto ra = a.initRoot<capnp::DynamicStruct>(schema);
    auto rb = b.initRoot<capnp::DynamicStruct>(schema);
    StepBuilder(ra, &names).set(c.field, c.value);
    rb.set(c.field, c.value);
    EXPECT_EQ(bytesOf(a), bytesOf(b)) << c.field << " = " << show(c.value);
  }
  // What Cap'n Proto refuses (out of range, the wrong type), the direct path refuses too, and
  // writes nothing.
  std::vector<Case> refused = {{"u8", 300}, {"i8", -129}, {"u32", -1}, {"u16", 1.5}, {"i32", "x"}};
  for (const auto& c : refused) {
    capnp::MallocMessageBuilder a, b;
    auto ra = a.initRoot<capnp::DynamicStruct>(schema);
    auto rb = b.initRoot<capnp::DynamicStruct>(schema);
    bool directThrew = false, capnpThrew = false;
    try {
      StepBuilder(ra, &names).set(c.field, c.value);
    } catch (const kj::Exception&) {
      directThrew = true;
    }
    try {
      rb.set(c.field, c.value);
    } catch (const kj::Exception&) {
      capnpThrew = true;
    }
    EXPECT_TRUE(directThrew) << c.field << " = " << show(c.value);
    EXPECT_EQ(directThrew, capnpThrew) << c.field;
    EXPECT_EQ(bytesOf(a), bytesOf(b)) << c.field;
  }
}

}  // namespace
}  // namespace capdb
