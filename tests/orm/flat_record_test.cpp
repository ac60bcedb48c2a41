// Records read in place (orm::FlatRecord, through query::TableColumns::readFlat) against the same
// records read through Cap'n Proto's reader: every column reads the same, and a record the
// in-place reader cannot read exactly as Cap'n Proto would (several segments, damage) is left to
// the decoder, never read differently.
#include "orm/flat_record.h"

#include <capnp/message.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <variant>

#include "all_types.capnp.h"
#include "capdb/capdb.h"
#include "query/columns.h"
#include "orm/record_codec.h"
#include "support/all_types_fill.h"
#include "support/temp_dir.h"
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
    encoder_.setPacked(seed % 2 == 1);
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
      Outcome out = decoded(value, i);
      // LMDB keeps values 2-byte aligned only: the bytes are read at every alignment.
      for (size_t misalign : {0, 1, 2, 3, 6}) {
        std::string shifted = std::string(misalign, '-') + value;
        Outcome in = flat(std::string_view(shifted).substr(misalign), i);
        if (columns_[i].path.direct) {
          EXPECT_EQ(describe(in), describe(out)) << columns_[i].name << ", misaligned by " << misalign;
        } else {
          EXPECT_EQ(describe(in), "unsure") << columns_[i].name;  // a union member
        }
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

TEST_F(FlatRecordTest, RecordsOfSeveralSegmentsAreReadInPlace) {
  // One-word segments put every object in a segment of its own, reached through far pointers;
  // the encoder stores them as one segment, which reads in place.
  capnp::MallocMessageBuilder message(1, capnp::AllocationStrategy::FIXED_SIZE);
  testing::fillAllTypes(message.initRoot<AllTypes>(), 1);
  ASSERT_GT(message.getSegmentsForOutput().size(), 1u);
  std::string value = encode(message);
  FlatRecord record;
  EXPECT_TRUE(record.reset(value));
  EXPECT_EQ(describe(flat(value, columns_.resolve("text"))), "'text 1 \xc3\xa9t\xc3\xa9'");
  EXPECT_EQ(describe(decoded(value, columns_.resolve("text"))), "'text 1 \xc3\xa9t\xc3\xa9'");
}

// Pointers written by hand into a record's segment, stored with a right checksum (Cap'n Proto's
// encoding: struct pointers tag 0, list pointers tag 1, far pointers tag 2, other pointers tag 3;
// offsets in words from the end of the pointer).
class HandMadePointers : public FlatRecordTest {
 protected:
  HandMadePointers() {
    capnp::MallocMessageBuilder message;
    testing::fillAllTypes(message.initRoot<AllTypes>(), 2);
    auto segment = message.getSegmentsForOutput();
    EXPECT_EQ(segment.size(), 1u);
    segment_.assign(reinterpret_cast<const char*>(segment[0].begin()), segment[0].size() * 8);
    uint64_t root = word(0);
    rootData_ = 1 + (static_cast<int32_t>(static_cast<uint32_t>(root)) >> 2);
    rootPointers_ = rootData_ + ((root >> 32) & 0xffff);
  }
  static uint64_t structPointer(int32_t offset, uint16_t dataWords, uint16_t pointers) {
    return static_cast<uint32_t>(offset * 4) | uint64_t{dataWords} << 32 | uint64_t{pointers} << 48;
  }
  static uint64_t listPointer(int32_t offset, uint64_t elementSize, uint64_t count) {
    return (static_cast<uint32_t>(offset * 4) | 1) | elementSize << 32 | count << 35;
  }
  uint64_t word(uint64_t position) const {
    uint64_t w;
    std::memcpy(&w, segment_.data() + position * 8, 8);
    return w;
  }
  void setWord(uint64_t position, uint64_t w) { std::memcpy(segment_.data() + position * 8, &w, 8); }
  // Appends `n` zero words to the segment; returns the position of the first.
  uint64_t grow(size_t n) {
    uint64_t at = segment_.size() / 8;
    segment_.append(n * 8, '\0');
    return at;
  }
  // The stored record of the segment as it is now.
  std::string value() {
    auto words = kj::heapArray<capnp::word>(segment_.size() / 8);
    std::memcpy(words.begin(), segment_.data(), segment_.size());
    return std::string(encoder_.encodeSegment(3, words));
  }
  // The position of root pointer `index`, and the offset from it to `target`.
  uint64_t rootPointer(uint32_t index) const { return rootPointers_ + index; }
  static int32_t offsetTo(uint64_t from, uint64_t target) {
    return static_cast<int32_t>(static_cast<int64_t>(target) - static_cast<int64_t>(from) - 1);
  }
  size_t column(std::string_view name) { return columns_.resolve(name); }
  uint32_t pointerOf(std::string_view name) { return columns_[column(name)].path.leafOffset; }
  uint32_t addressPointer() { return columns_[column("address.street")].path.pointerSteps[0]; }

  // `name` reads `expected` in place ("unsure" for: left to the decoder), and no direct column
  // reads differently from the decoder.
  void expectRead(std::string_view name, const std::string& expected, const std::string& decoderReads) {
    std::string stored = value();
    EXPECT_EQ(describe(flat(stored, column(name))), expected) << name;
    EXPECT_EQ(describe(decoded(stored, column(name))), decoderReads) << name;
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (!columns_[i].path.direct) continue;
      Outcome in = flat(stored, i);
      if (describe(in) != "unsure") {
        EXPECT_EQ(describe(in), describe(decoded(stored, i))) << columns_[i].name;
      }
    }
  }

  std::string segment_;  // the record's message, unpacked
  uint64_t rootData_ = 0, rootPointers_ = 0;
};

TEST_F(HandMadePointers, TextMustEndWithItsNul) {
  uint64_t at = rootPointer(pointerOf("text")), spare = grow(2);
  setWord(at, listPointer(offsetTo(at, spare), 2, 0));  // no bytes, not even the NUL
  expectRead("text", "unsure", "corrupt");
  setWord(at, listPointer(offsetTo(at, spare), 2, 1));  // only the NUL
  expectRead("text", "''", "''");
  setWord(spare, 0x6161);  // "aa"
  setWord(at, listPointer(offsetTo(at, spare), 2, 1));
  expectRead("text", "unsure", "corrupt");
  setWord(at, listPointer(offsetTo(at, spare), 2, 3));
  expectRead("text", "'aa'", "'aa'");
}

TEST_F(HandMadePointers, EmptyDataIsEmpty) {
  uint64_t at = rootPointer(pointerOf("data")), spare = grow(1);
  setWord(at, listPointer(offsetTo(at, spare), 2, 0));
  expectRead("data", "x''", "x''");
}

TEST_F(HandMadePointers, ListsOfOtherElementsAreLeftToTheDecoder) {
  uint64_t at = rootPointer(pointerOf("text")), spare = grow(1);
  setWord(at, listPointer(offsetTo(at, spare), 3, 2));  // two 16-bit elements
  expectRead("text", "unsure", "corrupt");
}

TEST_F(HandMadePointers, OtherPointersAreLeftToTheDecoder) {
  uint64_t at = rootPointer(pointerOf("text"));
  setWord(at, 3);  // a capability
  expectRead("text", "unsure", "corrupt");
  setWord(at, structPointer(0, 1, 0));
  expectRead("text", "unsure", "corrupt");
  // Out of the segment, after its end and before its start.
  setWord(at, listPointer(1000, 2, 2));
  expectRead("text", "unsure", "corrupt");
  setWord(at, listPointer(-1000, 2, 2));
  expectRead("text", "unsure", "corrupt");
}

TEST_F(HandMadePointers, FarPointersAreLeftToTheDecoder) {
  // A far pointer to a landing pad in the same segment: valid, but not read in place.
  uint64_t at = rootPointer(pointerOf("text")), pad = grow(2);
  setWord(pad + 1, 0x7a);  // "z"
  setWord(pad, listPointer(0, 2, 2));
  setWord(at, pad << 3 | 2);
  expectRead("text", "unsure", "'z'");
}

TEST_F(HandMadePointers, StructsOfNoSizeReadDefaults) {
  uint64_t at = rootPointer(addressPointer());
  setWord(at, structPointer(-1, 0, 0));  // how Cap'n Proto writes an empty struct
  expectRead("address.street", "NULL", "NULL");
  expectRead("address.geo.lat", "NULL", "NULL");  // geo is an unset struct
  // Out of the segment; Cap'n Proto reads an empty struct there.
  setWord(at, structPointer(100000, 0, 0));
  expectRead("address.street", "unsure", "NULL");
}

TEST_F(HandMadePointers, StructsOfFewerFieldsReadDefaultsForTheRest) {
  uint64_t at = rootPointer(addressPointer());
  uint64_t w = word(at);
  setWord(at, (w & 0x0000ffffffffffffULL) | uint64_t{1} << 48);  // street only
  expectRead("address.street", "'1 Main St'", "'1 Main St'");
  expectRead("address.zip", "NULL", "NULL");
  expectRead("address.geo.lat", "NULL", "NULL");  // geo is an unset struct
}

TEST_F(HandMadePointers, ABackwardPointerReadsWhatItPointsAt) {
  // The address points back at the root's own pointers: its street is the root's pointer 0.
  uint64_t at = rootPointer(addressPointer());
  setWord(at, structPointer(offsetTo(at, rootPointers_), 0, 2));
  std::string street = describe(decoded(value(), column("address.street")));
  EXPECT_NE(street, "corrupt");
  expectRead("address.street", street, street);
}

TEST_F(HandMadePointers, ARootOfNoSizeReadsDefaults) {
  setWord(0, structPointer(-1, 0, 0));
  expectRead("withDefault", "42", "42");
  expectRead("text", "NULL", "NULL");
  expectRead("i32", "0", "0");
}

TEST_F(FlatRecordTest, DamagedMessagesAreNeverReadDifferently) {
  // Damage behind a right checksum (as a bug could write it): the in-place reader reads a column
  // as the decoder does, or leaves the record to it.
  capnp::MallocMessageBuilder message;
  testing::fillAllTypes(message.initRoot<AllTypes>(), 4);
  auto segment = message.getSegmentsForOutput()[0];
  std::mt19937 rng(11);
  int agreed = 0, leftToDecoder = 0, corruptLeft = 0;
  for (int round = 0; round < 6000; ++round) {
    auto words = kj::heapArray<capnp::word>(segment.size());
    std::memcpy(words.begin(), segment.begin(), segment.size() * sizeof(capnp::word));
    auto* raw = reinterpret_cast<char*>(words.begin());
    // Often in a pointer's offset or sizes.
    for (int n = 1 + static_cast<int>(rng() % 2); n > 0; --n) {
      size_t at = rng() % (words.size() * sizeof(capnp::word));
      raw[at] = static_cast<char>(rng() % 4 == 0 ? raw[at] ^ (1 << (rng() % 8)) : rng());
    }
    encoder_.setPacked(round % 2 == 1);
    std::string value(encoder_.encodeSegment(3, words));
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

TEST_F(FlatRecordTest, AChangedStoredByteIsNeverReadInPlace) {
  // Any byte of a stored record changed: its checksum fails, the in-place reader leaves it, and
  // the decoder reports Corruption.
  capnp::MallocMessageBuilder message;
  testing::fillAllTypes(message.initRoot<AllTypes>(), 4);
  size_t text = columns_.resolve("text");
  for (bool packed : {false, true}) {
    encoder_.setPacked(packed);
    std::string original = encode(message);
    for (size_t at = 0; at < original.size(); ++at) {
      std::string value = original;
      value[at] = static_cast<char>(value[at] ^ 0x20);
      FlatRecord record;
      ASSERT_FALSE(record.reset(value)) << at;
      ASSERT_EQ(describe(decoded(value, text)), "Corruption") << at;
    }
  }
}

TEST(FlatRecordQuery, ARowReadPartlyInPlaceDecodesForTheRest) {
  // Union members are never read in place: a row that reads one after columns read in place is
  // decoded then, and every column reads right, whichever comes first.
  testing::TempDir dir;
  Database db = Database::open(dir / "db", Schemas{table<AllTypes>()});
  auto all = db.table<AllTypes>();
  db.write([&](WriteTxn& tx) {
    for (uint64_t seed = 0; seed < 6; ++seed) {
      all.insert(tx, [&](AllTypes::Builder b) { testing::fillAllTypes(b, seed); });
    }
  });
  std::string expected;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    std::string label = seed % 3 == 2 ? "'label'" : "NULL";
    std::string count = seed % 3 == 1 ? std::to_string(seed) : "NULL";
    expected += fmt::format("{}|'text {} \xc3\xa9t\xc3\xa9'|{}|48.85|{}|{};", seed + 1, seed, label, count, seed);
  }
  for (const char* sql :
       {"SELECT id, text, label, address.geo.lat, count, point.x FROM all_types ORDER BY id",
        "SELECT id, text, label, address.geo.lat, count, point.x FROM all_types WHERE text LIKE 'text%' "
        "AND label IS NULL OR point.x >= 0 ORDER BY id"}) {
    std::string rows;
    for (const auto& row : db.query(sql).rows) {
      for (size_t c = 0; c < row.size(); ++c) rows += (c ? "|" : "") + row[c].toSql();
      rows += ";";
    }
    EXPECT_EQ(rows, expected) << sql;
  }
  EXPECT_EQ(db.query("SELECT label, count(*), max(text), sum(point.x) FROM all_types GROUP BY label "
                     "ORDER BY label").rows.size(), 2u);
}

}  // namespace
}  // namespace capdb::orm
