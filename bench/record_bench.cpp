// The record codec against Cap'n Proto's packed serialization: encoding a ~100-byte Person record
// (capdb: header, checksum, packed segment; capnp: writePackedMessage), and decoding it (capdb:
// header and checksum check, unpacking, message validation, then reading 5 fields; capnp:
// PackedMessageReader, then the same 5 fields). "Verified" adds the schema walk that TableReader
// does on every read. Decode/Flat reads the unpacked message in place with
// capnp::FlatArrayMessageReader: the floor no packed format reaches.
#include <benchmark/benchmark.h>
#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>

#include <cstring>
#include <stdexcept>

#include "bench/bench_support.h"
#include "bench_person.capnp.h"
#include "orm/record_codec.h"

namespace {

using capdb::bench::Person;

void fill(Person::Builder p) {
  p.setId(123456789);
  p.setName("Ada Lovelace");
  p.setEmail("ada@analytical.example");
  p.setAge(36);
  p.setCity("London");
}

uint64_t readFive(Person::Reader p) {
  return p.getId() + p.getName().size() + p.getEmail().size() + p.getAge() + p.getCity().size();
}
constexpr uint64_t kExpected = 123456789 + 12 + 22 + 36 + 6;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("benchmark result is wrong: ") + what);
}

struct Fixture {
  capnp::MallocMessageBuilder message;
  std::string record;                  // capdb's encoding: header + packed message
  std::vector<capnp::word> unaligned;  // record 2 bytes past an aligned address (as LMDB may)
  std::string_view unalignedView;
  kj::Array<capnp::word> bare;         // the message unpacked, as capnp writes it
  kj::Array<kj::byte> packed;          // the message as writePackedMessage writes it

  Fixture() {
    fill(message.initRoot<Person>());
    capdb::orm::RecordEncoder encoder;
    record = std::string(encoder.encode(1, message));
    unaligned.resize(record.size() / 8 + 2);
    char* base = reinterpret_cast<char*>(unaligned.data()) + 2;
    std::memcpy(base, record.data(), record.size());
    unalignedView = {base, record.size()};
    bare = capnp::messageToFlatArray(message);
    kj::VectorOutputStream out;
    capnp::writePackedMessage(out, message);
    packed = kj::heapArray(out.getArray());
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void BM_Encode_Capdb(benchmark::State& state) {
  auto& f = fixture();
  capdb::orm::RecordEncoder encoder;
  size_t bytes = 0;
  for (auto _ : state) {
    auto out = encoder.encode(1, f.message);
    bytes += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  check(bytes == f.record.size() * state.iterations(), "encoded size");
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes/record"] = static_cast<double>(f.record.size());
}

void BM_Encode_Capnp(benchmark::State& state) {
  auto& f = fixture();
  auto buffer = kj::heapArray<kj::byte>(f.packed.size() + 64);
  size_t bytes = 0;
  for (auto _ : state) {
    kj::ArrayOutputStream out(buffer);
    capnp::writePackedMessage(out, f.message);
    bytes += out.getArray().size();
    benchmark::DoNotOptimize(buffer.begin());
  }
  check(bytes == f.packed.size() * state.iterations(), "encoded size");
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes/record"] = static_cast<double>(f.packed.size());
}

void decodeCapdb(benchmark::State& state, bool verify) {
  capdb::orm::RecordDecoder decoder;
  auto schema = capnp::Schema::from<Person>();
  capdb::orm::RecordCheck recordCheck(schema);
  uint64_t sum = 0;
  for (auto _ : state) {
    decoder.decode(fixture().unalignedView, "people", "k");
    if (verify) decoder.verifiedRoot(recordCheck, schema);
    sum += readFive(decoder.root<Person>());
  }
  check(sum == kExpected * state.iterations(), "fields read back");
  state.SetItemsProcessed(state.iterations());
}

void BM_Decode_Capdb(benchmark::State& s) { decodeCapdb(s, false); }
void BM_DecodeVerified_Capdb(benchmark::State& s) { decodeCapdb(s, true); }

void BM_Decode_Capnp(benchmark::State& state) {
  auto& f = fixture();
  uint64_t sum = 0;
  for (auto _ : state) {
    kj::ArrayInputStream in(f.packed);
    capnp::PackedMessageReader reader(in);
    sum += readFive(reader.getRoot<Person>());
  }
  check(sum == kExpected * state.iterations(), "fields read back");
  state.SetItemsProcessed(state.iterations());
}

void BM_DecodeVerified_Capnp(benchmark::State& state) { BM_Decode_Capnp(state); }

// Unpacked bytes read in place, with no checksum: what capdb's revision-1 records cost to read.
void BM_DecodeFlat_Capnp(benchmark::State& state) {
  auto& f = fixture();
  uint64_t sum = 0;
  for (auto _ : state) {
    capnp::FlatArrayMessageReader reader(f.bare);
    sum += readFive(reader.getRoot<Person>());
  }
  check(sum == kExpected * state.iterations(), "fields read back");
  state.SetItemsProcessed(state.iterations());
}

void BM_DecodeFlat_Capdb(benchmark::State& s) { decodeCapdb(s, false); }

}  // namespace

BENCHMARK(BM_Encode_Capdb)->Name("Encode/Capdb")->Repetitions(3);
BENCHMARK(BM_Encode_Capnp)->Name("Encode/Capnp")->Repetitions(3);
BENCHMARK(BM_Decode_Capdb)->Name("Decode/Capdb")->Repetitions(3);
BENCHMARK(BM_Decode_Capnp)->Name("Decode/Capnp")->Repetitions(3);
BENCHMARK(BM_DecodeVerified_Capdb)->Name("DecodeVerified/Capdb")->Repetitions(3);
BENCHMARK(BM_DecodeVerified_Capnp)->Name("DecodeVerified/Capnp")->Repetitions(3);
BENCHMARK(BM_DecodeFlat_Capdb)->Name("DecodeFlat/Capdb")->Repetitions(3);
BENCHMARK(BM_DecodeFlat_Capnp)->Name("DecodeFlat/Capnp")->Repetitions(3);

int main(int argc, char** argv) { return capdb::bench::runWithRatios(argc, argv, "Capdb", {"Capnp"}); }
