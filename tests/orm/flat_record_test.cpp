// Records read in place (orm::FlatRecord, through query::TableColumns::readFlat) against the same
// records read through Cap'n Proto's reader: every column reads the same, and a record the
// in-place reader cannot read exactly as Cap'n Proto would (several segments, damage) is left to
// the decoder, never read differently.
#include "orm/flat_record.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

#include <random>
#include <variant>

#include "all_types.capnp.h"
#include "orm/query/columns.h"
#include "orm/record_codec.h"
#include "support/all_types_fill.h"
#include "support/value_print.h"

namespace capdb::orm {
namespace {

using capdb::test::AllTypes;

// A column's value, or how reading it failed: "corrupt" for Cap'n Proto's kj::Exception, the
// error code's name for a capdb::Error (a UInt64 above 2^63-1), "unsure" for the in-place reader
// leaving the record to the decoder.
using Outcome = std::variant<Value, std::string>;

std::string describe(const Outcome& o) {
  if (auto* v = std::get_if<Value>(&o)) return v->toSql();
  return std::get<std::string>(o);
}

template <typename Read>
Outcome outcome(Read read) {
  try {
    return read();
  } catch (const kj::Exception&) {
    return std::string("corrupt");
  } catch (const Error& e) {
    return std::string(errorCodeName(e.code()));
  }
}

class FlatRecordTest : public ::testing::Test {
 protected:
  capnp::StructSchema schema_ = capnp::Schema::from<AllTypes>();
  query::TableColumns columns_{"all_types", schema_};
  RecordEncoder encoder_;

  // Column `i` of `value` through Cap'n Proto's reader, as TableCore::decode reads a record for a
  // query.
  Outcome decoded(std::string_view value, size_t i) {
    return outcome([&]() -> Value {
      RecordDecoder decoder;
      decoder.decode(value, "all_types", "k", false);
      return columns_.read(decoder.root(schema_), i);
    });
  }
  // The same in place.
  Outcome flat(std::string_view value, size_t i) {
    return outcome([&]() -> Outcome {
      FlatRecord record;
      if (!record.reset(value)) return std::string("unsure");
      Value v;
      if (!columns_.readFlat(record, i, v)) return std::string("unsure");
      return v;
    });
  }
  std::string encode(capnp::MessageBuilder& message) { return std::string(encoder_.encode(3, message)); }
};

TEST_F(FlatRecordTest, ReadsEveryDirectColumnAsTheDecoderDoes) {
  std::vector<std::string> values;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    capnp::MallocMessageBuilder message;
    testing::fillAllTypes(message.initRoot<AllTypes>(), seed);
    values.push_back(encode(message));
  }
  {
    capnp::MallocMessageBuilder message;  // every field at its default: unset Text, Data, structs
    message.initRoot<AllTypes>();
    values.push_back(encode(message));
  }
  {
    capnp::MallocMessageBuilder message;  // an address without its nested struct, empty Text
    auto r = message.initRoot<AllTypes>();
    r.setText("");
    r.setData(kj::ArrayPtr<const kj::byte>());
    r.initAddress().setZip("z");
    r.setWithDefault(-42);
    values.push_back(encode(message));
  }
  {
    capnp::MallocMessageBuilder message;  // an older, shorter layout reads its missing fields as defaults
    message.initRoot<capdb::test::Plain>().setX(-5);
    values.push_back(encode(message));
  }
  for (const auto& value : values) {
    FlatRecord record;
    ASSERT_TRUE(record.reset(value));
    EXPECT_EQ(record.version(), 3u);
    for (size_t i = 0; i < columns_.size(); ++i) {
      Outcome in = flat(value, i), out = decoded(value, i);
      if (columns_[i].path.direct) {
        EXPECT_EQ(describe(in), describe(out)) << columns_[i].name;
      } else {
        EXPECT_EQ(describe(in), "unsure") << columns_[i].name;  // a union member
      }
    }
  }
  // The columns read in place include nested ones (address.geo.lat), groups (point.x) and every
  // leaf type; only union members are left to the decoder.
  size_t direct = 0;
  for (const auto& c : columns_.all()) direct += c.path.direct;
  EXPECT_EQ(direct, columns_.size() - 4);
}

TEST_F(FlatRecordTest, NullRootReadsDefaults) {
  capnp::MallocMessageBuilder message;
  message.getRoot<capnp::AnyPointer>();  // the root pointer stays null
  std::string value = encode(message);
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (!columns_[i].path.direct) continue;
    EXPECT_EQ(describe(flat(value, i)), describe(decoded(value, i))) << columns_[i].name;
  }
  size_t withDefault = columns_.resolve("withDefault");
  EXPECT_EQ(describe(flat(value, withDefault)), "42");
}

TEST_F(FlatRecordTest, RecordsOfSeveralSegmentsAreLeftToTheDecoder) {
  // One-word segments put every object in a segment of its own, reached through far pointers.
  capnp::MallocMessageBuilder message(1, capnp::AllocationStrategy::FIXED_SIZE);
  testing::fillAllTypes(message.initRoot<AllTypes>(), 1);
  ASSERT_GT(message.getSegmentsForOutput().size(), 1u);
  std::string value = encode(message);
  FlatRecord record;
  EXPECT_FALSE(record.reset(value));
  EXPECT_EQ(describe(decoded(value, columns_.resolve("text"))), "'text 1 \xc3\xa9t\xc3\xa9'");
}

TEST_F(FlatRecordTest, DamagedRecordsAreNeverReadDifferently) {
  capnp::MallocMessageBuilder message;
  testing::fillAllTypes(message.initRoot<AllTypes>(), 4);
  std::string original = encode(message);
  std::mt19937 rng(11);
  int agreed = 0, leftToDecoder = 0, corruptLeft = 0;
  for (int round = 0; round < 6000; ++round) {
    std::string value = original;
    // Damage the message (the header's own checks are RecordDecoder's), often in a pointer's
    // offset or sizes.
    for (int n = 1 + static_cast<int>(rng() % 2); n > 0; --n) {
      size_t at = kRecordHeaderSize + rng() % (value.size() - kRecordHeaderSize);
      value[at] = static_cast<char>(rng() % 4 == 0 ? value[at] ^ (1 << (rng() % 8)) : rng());
    }
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (!columns_[i].path.direct) continue;
      Outcome in = flat(value, i), out = decoded(value, i);
      if (describe(in) == "unsure") {
        ++leftToDecoder;
        corruptLeft += describe(out) == "corrupt";
        continue;
      }
      ASSERT_EQ(describe(in), describe(out)) << "round " << round << ", column " << columns_[i].name;
      ++agreed;
    }
  }
  // Both kinds of outcome happen often: the test is not vacuous.
  EXPECT_GT(agreed, 10000);
  EXPECT_GT(leftToDecoder, 1000);
  EXPECT_GT(corruptLeft, 500);
}

}  // namespace
}  // namespace capdb::orm
