// The record codec against bare Cap'n Proto: encoding a ~100-byte Person record, and decoding it
// (header check, message validation, then reading 5 fields) from 8-byte-aligned bytes (zero-copy)
// and from unaligned ones (copied first), beside a capnp::FlatArrayMessageReader on the same
// message bytes. "Verified" adds the schema walk that TableReader does on every read.
#include <benchmark/benchmark.h>
#include <capnp/message.h>
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
  std::string record;                  // capdb's encoding: header + message
  std::vector<capnp::word> aligned;    // record at an aligned address
  std::vector<capnp::word> unaligned;  // record 2 bytes past an aligned address
  std::string_view alignedView, unalignedView;
  kj::Array<capnp::word> bare;         // the message alone, as capnp writes it

  Fixture() {
    fill(message.initRoot<Person>());
    capdb::orm::RecordEncoder encoder;
    record = std::string(encoder.encode(1, message));
    aligned.resize(record.size() / 8 + 1);
    std::memcpy(aligned.data(), record.data(), record.size());
    alignedView = {reinterpret_cast<const char*>(aligned.data()), record.size()};
    unaligned.resize(record.size() / 8 + 2);
    char* base = reinterpret_cast<char*>(unaligned.data()) + 2;
    std::memcpy(base, record.data(), record.size());
    unalignedView = {base, record.size()};
    bare = capnp::messageToFlatArray(message);
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
  size_t words = 0;
  for (auto _ : state) {
    auto out = capnp::messageToFlatArray(f.message);
    words += out.size();
    benchmark::DoNotOptimize(out.begin());
  }
  check(words == f.bare.size() * state.iterations(), "encoded size");
  state.SetItemsProcessed(state.iterations());
}

void decodeCapdb(benchmark::State& state, std::string_view bytes, bool expectCopy, bool verify) {
  capdb::orm::RecordDecoder decoder;
  auto schema = capnp::Schema::from<Person>();
  capdb::orm::RecordCheck recordCheck(schema);
  uint64_t sum = 0;
  for (auto _ : state) {
    decoder.decode(bytes, "people", "k");
    if (verify) decoder.verifiedRoot(recordCheck, schema);
    sum += readFive(decoder.root<Person>());
  }
  check(decoder.copied() == expectCopy, "alignment handling");
  check(sum == kExpected * state.iterations(), "fields read back");
  state.SetItemsProcessed(state.iterations());
}

void BM_DecodeAligned_Capdb(benchmark::State& s) { decodeCapdb(s, fixture().alignedView, false, false); }
void BM_DecodeUnaligned_Capdb(benchmark::State& s) { decodeCapdb(s, fixture().unalignedView, true, false); }
void BM_DecodeVerified_Capdb(benchmark::State& s) { decodeCapdb(s, fixture().alignedView, false, true); }

void BM_DecodeAligned_Capnp(benchmark::State& state) {
  auto& f = fixture();
  uint64_t sum = 0;
  for (auto _ : state) {
    capnp::FlatArrayMessageReader reader(f.bare);
    sum += readFive(reader.getRoot<Person>());
  }
  check(sum == kExpected * state.iterations(), "fields read back");
  state.SetItemsProcessed(state.iterations());
}

// The floor for unaligned bytes: copy into an aligned buffer, then read.
void BM_DecodeUnaligned_Capnp(benchmark::State& state) {
  auto& f = fixture();
  std::vector<capnp::word> buffer(f.bare.size());
  const char* src = f.unalignedView.data() + capdb::orm::kRecordHeaderSize;
  uint64_t sum = 0;
  for (auto _ : state) {
    std::memcpy(buffer.data(), src, buffer.size() * sizeof(capnp::word));
    capnp::FlatArrayMessageReader reader(kj::arrayPtr(buffer.data(), buffer.size()));
    sum += readFive(reader.getRoot<Person>());
  }
  check(sum == kExpected * state.iterations(), "fields read back");
  state.SetItemsProcessed(state.iterations());
}

void BM_DecodeVerified_Capnp(benchmark::State& state) { BM_DecodeAligned_Capnp(state); }

}  // namespace

BENCHMARK(BM_Encode_Capdb)->Name("Encode/Capdb")->Repetitions(3);
BENCHMARK(BM_Encode_Capnp)->Name("Encode/Capnp")->Repetitions(3);
BENCHMARK(BM_DecodeAligned_Capdb)->Name("DecodeAligned/Capdb")->Repetitions(3);
BENCHMARK(BM_DecodeAligned_Capnp)->Name("DecodeAligned/Capnp")->Repetitions(3);
BENCHMARK(BM_DecodeUnaligned_Capdb)->Name("DecodeUnaligned/Capdb")->Repetitions(3);
BENCHMARK(BM_DecodeUnaligned_Capnp)->Name("DecodeUnaligned/Capnp")->Repetitions(3);
BENCHMARK(BM_DecodeVerified_Capdb)->Name("DecodeVerified/Capdb")->Repetitions(3);
BENCHMARK(BM_DecodeVerified_Capnp)->Name("DecodeVerified/Capnp")->Repetitions(3);

int main(int argc, char** argv) { return capdb::bench::runWithRatios(argc, argv, "Capdb", {"Capnp"}); }
