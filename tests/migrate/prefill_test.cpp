// The planned field-by-field prefill (bits and pointers copied at offsets computed once) gives
// exactly what the dynamic one gives, for every kind of field, changed defaults, changed types
// and records shorter than their schema.
#include <capnp/message.h>
#include <capnp/pretty-print.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <cstring>

#include "capdb/capdb.h"
#include "migrate/chain.h"
#include "support/people_versions.h"

namespace capdb {
namespace {

class PrefillTest : public ::capdb::testing::PeopleVersions {};

kj::Array<capnp::word> bytesOf(capnp::MessageBuilder& m) {
  return capnp::messageToFlatArray(m);
}

// Both prefills of `old` into `to`: the same bytes.
void expectSamePrefill(capnp::DynamicStruct::Reader old, capnp::StructSchema to) {
  migrate::PrefillPlan plan = migrate::planPrefill(old.getSchema(), to);
  ASSERT_FALSE(plan.raw);
  ASSERT_TRUE(plan.planned);
  capnp::MallocMessageBuilder dynamic, planned;
  migrate::prefill(old, dynamic.initRoot<capnp::DynamicStruct>(to));
  migrate::applyPrefill(plan, old, planned.initRoot<capnp::DynamicStruct>(to));
  auto a = bytesOf(dynamic), b = bytesOf(planned);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.begin(), b.begin(), a.size() * sizeof(capnp::word)), 0)
      << "dynamic: " << kj::str(dynamic.getRoot<capnp::DynamicStruct>(to).asReader()).cStr()
      << "\nplanned: " << kj::str(planned.getRoot<capnp::DynamicStruct>(to).asReader()).cStr();
}

constexpr const char* kExtra =
    "enum Color { red @0; green @1; blue @2; }\n"
    "struct Point { x @0 :Int32; y @1 :Int32; }\n";

TEST_F(PrefillTest, PlannedCopiesMatchTheDynamicOnesForEveryFieldKind) {
  TableSchema v1 = people(1,
      "id @0 :UInt64; small @1 :Int8 = -3; wide @2 :UInt32 = 7; ratio @3 :Float32 = 1.5; "
      "flag @4 :Bool = true; other @5 :Bool; color @6 :Color = green; name @7 :Text; "
      "blob @8 :Data; tags @9 :List(Text); at @10 :Point; score @11 :Float64; gone @12 :Int16;",
      kExtra);
  // score changes type (the plan cannot be raw); defaults change for small, wide, ratio, flag
  // and color; gone becomes Text.
  TableSchema v2 = people(2,
      "id @0 :UInt64; small @1 :Int8 = 4; wide @2 :UInt32 = 9; ratio @3 :Float32 = -2; "
      "flag @4 :Bool = false; other @5 :Bool; color @6 :Color = blue; name @7 :Text; "
      "blob @8 :Data; tags @9 :List(Text); at @10 :Point; score @11 :Int64; gone @12 :Text; "
      "added @13 :UInt16 = 5;",
      kExtra);
  for (bool set : {false, true}) {
    capnp::MallocMessageBuilder m;
    auto r = m.initRoot<capnp::DynamicStruct>(v1.schema);
    r.set("id", 42);
    if (set) {
      r.set("small", -100);
      r.set("wide", 4000000000u);
      r.set("ratio", 3.25);
      r.set("flag", false);
      r.set("other", true);
      r.set("color", "red");
      r.set("name", "Ada");
      r.set("blob", capnp::Data::Reader(reinterpret_cast<const kj::byte*>("\0\1\2"), 3));
      r.set("tags", {"a", "b"});
      r.init("at").as<capnp::DynamicStruct>().set("y", -9);
      r.set("score", 2.5);
      r.set("gone", 12);
    }
    SCOPED_TRACE(set ? "fields set" : "fields at their defaults");
    expectSamePrefill(r.asReader(), v2.schema);
  }
}

TEST_F(PrefillTest, FieldsPastAShorterRecordReadAsTheirOldDefaults) {
  TableSchema v1 = people(1, "id @0 :UInt64;");
  TableSchema v2 = people(2, "id @0 :UInt64; level @1 :UInt8 = 3; on @2 :Bool = true; note @3 :Text;");
  TableSchema v3 = people(3, "id @0 :UInt64; level @1 :UInt8 = 1; on @2 :Bool; note @3 :Text; x @4 :Float64 = 2;");
  // A version-1 record read as version 2 (wire-compatible): its sections are version 1's.
  capnp::MallocMessageBuilder m;
  m.initRoot<capnp::DynamicStruct>(v1.schema).set("id", 8);
  auto asV2 = m.getRoot<capnp::DynamicStruct>(v1.schema).asReader();
  capnp::AnyStruct::Reader any(asV2);
  expectSamePrefill(any.as<capnp::DynamicStruct>(v2.schema), v3.schema);
  // And the values: level reads 3 and on reads true, as they did at version 2.
  migrate::PrefillPlan plan = migrate::planPrefill(v2.schema, v3.schema);
  capnp::MallocMessageBuilder out;
  auto next = out.initRoot<capnp::DynamicStruct>(v3.schema);
  migrate::applyPrefill(plan, any.as<capnp::DynamicStruct>(v2.schema), next);
  EXPECT_EQ(next.get("level").as<uint8_t>(), 3);
  EXPECT_TRUE(next.get("on").as<bool>());
  EXPECT_FALSE(next.has("note"));
  EXPECT_EQ(next.get("x").as<double>(), 2);
}

TEST_F(PrefillTest, FieldsThatMoveAreCopiedToTheirNewPlaces) {
  // a grows to Int64 and p becomes Int32, so b, c and q move in the new layout.
  TableSchema v1 = people(1,
      "id @0 :UInt64; a @1 :Int16; b @2 :Int16; p @3 :Text; q @4 :Text; "
      "c @5 :UInt64 = 0x0102030405060708;");
  TableSchema v2 = people(2,
      "id @0 :UInt64; a @1 :Int64; b @2 :Int16; p @3 :Int32; q @4 :Text; "
      "c @5 :UInt64 = 0x1112131415161718;");
  for (bool setC : {false, true}) {
    SCOPED_TRACE(setC ? "c set" : "c at its default");
    capnp::MallocMessageBuilder m;
    auto r = m.initRoot<capnp::DynamicStruct>(v1.schema);
    r.set("id", 0xF1F2F3F4F5F6F7F8ull);
    r.set("a", 300);
    r.set("b", -2);
    r.set("p", "pp");
    r.set("q", "queue");
    if (setC) r.set("c", 0xA1A2A3A4A5A6A7A8ull);
    expectSamePrefill(r.asReader(), v2.schema);
    migrate::PrefillPlan plan = migrate::planPrefill(v1.schema, v2.schema);
    capnp::MallocMessageBuilder out;
    auto next = out.initRoot<capnp::DynamicStruct>(v2.schema);
    migrate::applyPrefill(plan, r.asReader(), next);
    EXPECT_EQ(next.get("id").as<uint64_t>(), 0xF1F2F3F4F5F6F7F8ull);
    EXPECT_EQ(next.get("a").as<int64_t>(), 0);  // changed type: the step's to set
    EXPECT_EQ(next.get("b").as<int16_t>(), -2);
    EXPECT_EQ(next.get("p").as<int32_t>(), 0);
    EXPECT_EQ(std::string(next.get("q").as<capnp::Text>().cStr()), "queue");
    EXPECT_EQ(next.get("c").as<uint64_t>(), setC ? 0xA1A2A3A4A5A6A7A8ull : 0x0102030405060708ull);
  }
}

TEST_F(PrefillTest, ANestedStructWhoseLayoutChangedIsNotCopied) {
  // Point.x changes type; a raw copy of `at` would read its Int32 bits as a Float32.
  TableSchema v1 = people(1, "id @0 :UInt64; at @1 :Point; n @2 :Int32;",
                          "struct Point { x @0 :Int32; y @1 :Int32; }\n");
  TableSchema v2 = people(2, "id @0 :UInt64; at @1 :Point; n @2 :Int64;",
                          "struct Point { x @0 :Float32; y @1 :Int32; }\n");
  // A nested default that changed is no different: unset values would read the new default.
  TableSchema v3 = people(3, "id @0 :UInt64; at @1 :Point; n @2 :Int64;",
                          "struct Point { x @0 :Float32 = 5; y @1 :Int32; }\n");
  capnp::MallocMessageBuilder m;
  auto r = m.initRoot<capnp::DynamicStruct>(v1.schema);
  r.init("at").as<capnp::DynamicStruct>().set("x", 3);
  r.set("n", 4);
  expectSamePrefill(r.asReader(), v2.schema);
  for (const TableSchema* to : {&v2, &v3}) {
    capnp::MallocMessageBuilder out;
    auto next = out.initRoot<capnp::DynamicStruct>(to->schema);
    migrate::applyPrefill(migrate::planPrefill(v1.schema, to->schema), r.asReader(), next);
    EXPECT_FALSE(next.has("at"));
  }
  capnp::MallocMessageBuilder out;
  auto next = out.initRoot<capnp::DynamicStruct>(v3.schema);
  capnp::AnyStruct::Reader asV2(m.getRoot<capnp::DynamicStruct>(v1.schema).asReader());
  EXPECT_FALSE(migrate::planPrefill(v2.schema, v3.schema).raw);
  migrate::prefill(asV2.as<capnp::DynamicStruct>(v2.schema), next);
  EXPECT_FALSE(next.has("at"));
}

TEST_F(PrefillTest, AnActiveUnionMemberWithANullPointerStaysActive) {
  TableSchema v1 = people(1, "id @0 :UInt64; s :union { none @1 :Void; items @2 :List(Int32); } n @3 :Int32;");
  TableSchema v2 = people(2, "id @0 :UInt64; s :union { none @1 :Void; items @2 :List(Int32); } n @3 :Int64;");
  capnp::MallocMessageBuilder m;
  auto r = m.initRoot<capnp::DynamicStruct>(v1.schema);
  r.get("s").as<capnp::DynamicStruct>().clear("items");  // active, and null
  capnp::MallocMessageBuilder out;
  auto next = out.initRoot<capnp::DynamicStruct>(v2.schema);
  migrate::prefill(r.asReader(), next);
  KJ_IF_MAYBE (w, next.get("s").as<capnp::DynamicStruct>().which()) {
    EXPECT_EQ(std::string(w->getProto().getName().cStr()), "items");
  } else {
    ADD_FAILURE() << "no member active";
  }
}

TEST_F(PrefillTest, AnUnsetPointerKeepsItsOldDefaultWhenTheDefaultChanges) {
  // The flat pair takes the planned copy, the pair with a union the dynamic one.
  for (bool flat : {true, false}) {
    SCOPED_TRACE(flat ? "planned" : "dynamic");
    std::string extra = flat ? "a @3 :Void; b @4 :Text; " : "u :union { a @3 :Void; b @4 :Text; } ";
    TableSchema v1 = people(1, "id @0 :UInt64; note @1 :Text = \"n/a\"; n @2 :Int32; " + extra +
                                   "nums @5 :List(Int32) = [1, 2]; blank @6 :Text;");
    TableSchema v2 = people(2, "id @0 :UInt64; note @1 :Text = \"none\"; n @2 :Int64; " + extra +
                                   "nums @5 :List(Int32) = [3]; blank @6 :Text = \"x\";");
    capnp::MallocMessageBuilder m;
    auto r = m.initRoot<capnp::DynamicStruct>(v1.schema);
    r.set("id", 1);
    capnp::MallocMessageBuilder out;
    auto next = out.initRoot<capnp::DynamicStruct>(v2.schema);
    migrate::PrefillPlan plan = migrate::planPrefill(v1.schema, v2.schema);
    EXPECT_EQ(plan.planned, flat);
    if (plan.planned) migrate::applyPrefill(plan, r.asReader(), next);
    else migrate::prefill(r.asReader(), next);
    EXPECT_EQ(std::string(next.get("note").as<capnp::Text>().cStr()), "n/a");
    auto nums = next.get("nums").as<capnp::DynamicList>();
    ASSERT_EQ(nums.size(), 2u);
    EXPECT_EQ(nums[1].as<int32_t>(), 2);
    // A field that had no default has no old value to keep: unset, it reads the new default.
    EXPECT_FALSE(next.has("blank"));
  }
}

TEST_F(PrefillTest, GroupsAndUnionsAreLeftToTheDynamicCopy) {
  TableSchema v1 = people(1, "id @0 :UInt64; s :union { a @1 :Int32; b @2 :Text; } n @3 :Int32;");
  TableSchema v2 = people(2, "id @0 :UInt64; s :union { a @1 :Int32; b @2 :Text; } n @3 :Int64;");
  migrate::PrefillPlan plan = migrate::planPrefill(v1.schema, v2.schema);
  EXPECT_FALSE(plan.raw);
  EXPECT_FALSE(plan.planned);
}

}  // namespace
}  // namespace capdb
