// Fills an AllTypes record with a value of every field type, varied by `seed`.
#pragma once

#include <string>

#include "all_types.capnp.h"

namespace capdb::testing {

inline void fillAllTypes(capdb::test::AllTypes::Builder r, uint64_t seed) {
  auto s = static_cast<int64_t>(seed);
  r.setId(seed + 1);
  r.setB(seed % 2 == 0);
  r.setI8(static_cast<int8_t>(-100 + s % 50));
  r.setI16(static_cast<int16_t>(-30000 + s));
  r.setI32(static_cast<int32_t>(-2000000000 + s));
  r.setI64(-9000000000000000000LL + s);
  r.setU8(static_cast<uint8_t>(200 + seed % 50));
  r.setU16(static_cast<uint16_t>(60000 + seed));
  r.setU32(4000000000u + static_cast<uint32_t>(seed));
  r.setU64(18000000000000000000ULL + seed);
  r.setF32(1.5f + static_cast<float>(seed));
  r.setScore(-2.25 * static_cast<double>(seed));
  r.setText("text " + std::to_string(seed) + " \xc3\xa9t\xc3\xa9");
  std::string bytes("\0\x01\xff", 3);
  bytes += std::to_string(seed);
  r.setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(bytes.data()), bytes.size()));
  r.setColor(seed % 3 == 0 ? capdb::test::Color::BLUE : capdb::test::Color::GREEN);
  auto address = r.initAddress();
  address.setStreet("1 Main St");
  address.setZip(std::to_string(10000 + seed));
  address.initGeo().setLat(48.85);
  r.getPoint().setX(static_cast<int32_t>(seed));
  r.getPoint().setY(-7);
  if (seed % 3 == 0) r.setNone();
  else if (seed % 3 == 1) r.setCount(static_cast<uint32_t>(seed));
  else r.setLabel("label");
  r.getShape().setSquare(2.0);
  auto bools = r.initBools(3);
  bools.set(0, true);
  bools.set(2, true);
  auto ints = r.initInts(2);
  ints.set(0, -1);
  ints.set(1, static_cast<int32_t>(seed));
  r.initFloats(1).set(0, 0.5);
  auto texts = r.initTexts(2);
  texts.set(0, "a");
  texts.set(1, "");
  r.initBlobs(1).set(0, kj::arrayPtr(reinterpret_cast<const kj::byte*>("\0z"), 2));
  auto colors = r.initColors(2);
  colors.set(0, capdb::test::Color::RED);
  colors.set(1, capdb::test::Color::BLUE);
  r.initAddresses(2)[1].setZip("75001");
  auto matrix = r.initMatrix(2);
  matrix.init(0, 2).set(1, 9);
  matrix.init(1, 0);
}

}  // namespace capdb::testing
