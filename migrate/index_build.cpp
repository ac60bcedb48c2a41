#include "migrate/index_build.h"

#include "migrate/batch_timer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>

#include "engine/error_context.h"
#include "engine/fail.h"
#include "engine/key_codec.h"
#include "engine/key_compare.h"
#include "orm/kj_error.h"

namespace capdb::migrate {
namespace {

constexpr size_t kShown = 10;  // offending keys kept for a failed index

struct Batch {
  EntryBatch entries;
  std::string last;  // the last primary key read
  uint64_t scanned = 0;
  bool exhausted = true;
};

// The range after the lowest checkpoint of `building` (all records when one has none).
engine::KeyRange rangeOf(
    const std::vector<std::pair<const orm::IndexCore*, orm::IndexInfo*>>& building) {
  std::string from;
  for (const auto& [ic, ii] : building) {
    if (ii->checkpoint.empty()) return engine::KeyRange::all();
    if (from.empty() || ii->checkpoint < from) from = ii->checkpoint;
  }
  return engine::KeyRange::atLeast(from, false);
}

// Reads the batch's records and gathers each building index's entries for the records past its
// own checkpoint. Only the indexed fields are read, each bounds-checked: records are not
// verified whole.
Batch gather(engine::WriteTxn& etx, const orm::TableCore& core,
             const std::vector<std::pair<const orm::IndexCore*, orm::IndexInfo*>>& building,
             const EagerOptions& options, uint64_t limit) {
  Batch b{EntryBatch(building.size()), {}, 0, true};
  orm::RecordDecoder decoder;
  const BatchTimer timer(options);
  for (auto [key, value] : etx.scan(core.records(etx), rangeOf(building))) {
    std::string_view pk = key;
    if (b.scanned >= std::max<uint64_t>(limit, 1) ||
        (b.scanned > 0 && b.entries.bytes() >= options.batchBytes) || timer.over(b.scanned)) {
      b.exhausted = false;
      break;
    }
    ++b.scanned;
    b.last.assign(pk);
    auto record = core.decode(decoder, pk, value, /*verify=*/false);
    for (size_t i = 0; i < building.size(); ++i) {
      const std::string& cp = building[i].second->checkpoint;
      if (!cp.empty() && pk <= std::string_view(cp)) continue;
      b.entries.add(i, core, *building[i].first, record, pk);
    }
  }
  return b;
}

std::string duplicate(std::string_view key, std::optional<std::string_view> owner,
                      std::string_view other) {
  return fmt::format("key {} of records {} and {}", engine::formatKey(key),
                     owner ? engine::formatKey(*owner) : std::string("?"),
                     engine::formatKey(other));
}

// Writes one index's sorted entries; returns the duplicates met (a unique index's keys that
// another record holds), in which case what was written must be dropped. An index nothing has
// written to yet is appended to: pages fill as written, no key is searched for.
std::vector<std::string> writeSorted(
    engine::WriteTxn& etx, const orm::IndexCore& ic,
    std::span<const std::pair<std::string_view, std::string_view>> puts) {
  std::vector<std::string> duplicates;
  bool empty = etx.count(ic.db) == 0;
  if (empty) {
    if (ic.schema.unique) {  // keys met twice in the batch
      for (size_t j = 1; j < puts.size() && duplicates.size() < kShown; ++j) {
        if (puts[j].first == puts[j - 1].first) {
          duplicates.push_back(duplicate(puts[j].first, puts[j - 1].second, puts[j].second));
        }
      }
      if (!duplicates.empty()) return duplicates;
    }
    etx.appendMany(ic.db, puts);
    return duplicates;
  }
  if (!ic.schema.unique) {
    etx.putMany(ic.db, puts);  // (key, primary key) -> "": the same entry again is harmless
    return duplicates;
  }
  // Unique keys go in without overwriting; a key already there for another record (entered by an
  // earlier batch or a write, or by this batch) is a duplicate.
  size_t at = 0;
  while (at < puts.size() && duplicates.size() < kShown) {
    size_t stopped = at + etx.insertMany(ic.db, puts.subspan(at));
    if (stopped >= puts.size()) break;
    auto [k, v] = puts[stopped];
    auto owner = etx.get(ic.db, k);
    if (!owner || *owner != v) duplicates.push_back(duplicate(k, owner, v));
    at = stopped + 1;
  }
  return duplicates;
}

}  // namespace

std::string failIndex(engine::WriteTxn& etx, const orm::TableCore& core, const orm::IndexCore& ic,
                      orm::IndexInfo& ii, std::vector<std::string> problems, bool unstorable) {
  etx.clearDb(ic.db);
  ii.state = orm::IndexState::Failed;
  ii.checkpoint.clear();
  ii.done = 0;
  ii.duplicates = std::move(problems);
  return fmt::format(
      "table {}: {} {} cannot be built, {}: {}; the index is failed (neither kept nor read), "
      "the records are as they were",
      core.schema().name, ic.schema.unique ? "unique index" : "index", ii.name,
      unstorable ? "a record's key cannot be stored in it" : "its keys repeat",
      fmt::join(ii.duplicates, "; "));
}

// ---- EntryBatch ----

char* EntryBatch::room(size_t n) {
  // Blocks double from 64 KiB to 1 MiB: a small batch (a thread's share of a chunk) takes little.
  constexpr size_t kFirstBlock = size_t{64} << 10, kBlock = size_t{1} << 20;
  if (blocks_.empty() || blockSize_ - blockUsed_ < n) {
    blockSize_ = std::max(blockSize_ == 0 ? kFirstBlock : std::min(kBlock, blockSize_ * 2), n);
    blocks_.push_back(std::make_unique<char[]>(blockSize_));
    reserved_ += blockSize_;
    blockUsed_ = 0;
  }
  char* at = blocks_.back().get() + blockUsed_;
  blockUsed_ += n;
  return at;
}

void EntryBatch::add(size_t i, const orm::TableCore& core, const orm::IndexCore& index,
                     capnp::DynamicStruct::Reader record, std::string_view pk) {
  if (!unstorable_[i].empty()) return;
  ErrorContext at = core.context(pk);
  std::pair<std::string, std::string> entry;
  try {
    entry = orm::translateKjIn(
        ErrorCode::Corruption, [&] { return core.indexEntry(index, record, pk); },
        "reading the record's indexed fields");
  } catch (const Error& e) {
    if (e.code() != ErrorCode::InvalidArgument) throw;
    unstorable_[i] = fmt::format("record {}: {}", engine::formatKey(pk), e.what());
    unstorablePk_[i].assign(pk);
    return;
  }
  const auto& [key, val] = entry;
  // Keys (and so values holding a primary key) are at most engine::kMaxKeySize bytes.
  unsigned char head[8] = {};
  std::memcpy(head, key.data(), std::min<size_t>(8, key.size()));
  char* bytes = room(key.size() + val.size() + pk.size());
  std::memcpy(bytes, key.data(), key.size());
  std::memcpy(bytes + key.size(), val.data(), val.size());
  std::memcpy(bytes + key.size() + val.size(), pk.data(), pk.size());
  entries_[i].push_back({engine::loadBigEndian(head), bytes, static_cast<uint16_t>(key.size()),
                         static_cast<uint16_t>(val.size()), static_cast<uint16_t>(pk.size())});
  ++entered_[i];
  ++count_;
}

bool EntryBatch::before(const Entry& x, const Entry& y) {
  // A key shorter than eight bytes is padded with zeros: equal prefixes then compare whole.
  if (x.prefix != y.prefix) return x.prefix < y.prefix;
  int c = engine::compareKeyBytes(x.key(), y.key());
  return c != 0 ? c < 0 : x.pk() < y.pk();
}

void EntryBatch::sortIntoRun(size_t i) {
  std::sort(entries_[i].begin(), entries_[i].end(), before);
  runs_[i].push_back(std::move(entries_[i]));
  entries_[i].clear();
}

void EntryBatch::sort() {
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].size() >= kRun) sortIntoRun(i);  // fewer: copied by absorb, sorted by write
  }
}

void EntryBatch::absorb(EntryBatch&& other) {
  for (size_t i = 0; i < entries_.size(); ++i) {
    entries_[i].insert(entries_[i].end(), other.entries_[i].begin(), other.entries_[i].end());
    for (auto& run : other.runs_[i]) runs_[i].push_back(std::move(run));
    entered_[i] += other.entered_[i];
    // The record first in key order whose key cannot be stored: threads take records out of
    // order, so that it is the same however they shared them.
    if (!other.unstorable_[i].empty() &&
        (unstorable_[i].empty() || engine::compareKeyBytes(other.unstorablePk_[i], unstorablePk_[i]) < 0)) {
      unstorable_[i] = std::move(other.unstorable_[i]);
      unstorablePk_[i] = std::move(other.unstorablePk_[i]);
    }
  }
  // The entries point into the blocks, which move here whole; this batch's last block stays the
  // one it fills next.
  blocks_.insert(blocks_.begin(), std::make_move_iterator(other.blocks_.begin()),
                 std::make_move_iterator(other.blocks_.end()));
  reserved_ += other.reserved_;
  count_ += other.count_;
  // `other` starts again empty, keeping its lists' room.
  for (auto& list : other.entries_) list.clear();
  for (auto& runs : other.runs_) runs.clear();
  std::fill(other.entered_.begin(), other.entered_.end(), 0);
  for (auto& u : other.unstorable_) u.clear();
  for (auto& u : other.unstorablePk_) u.clear();
  other.blocks_.clear();
  other.blockUsed_ = other.blockSize_ = other.reserved_ = other.count_ = 0;
}

std::vector<std::string> EntryBatch::write(engine::WriteTxn& etx, size_t i,
                                           const orm::IndexCore& index) {
  if (!unstorable_[i].empty()) return {unstorable_[i]};
  if (!entries_[i].empty()) sortIntoRun(i);  // what no sort() took
  const std::vector<std::vector<Entry>>& runs = runs_[i];
  size_t total = 0;
  for (const auto& run : runs) total += run.size();
  std::vector<std::pair<std::string_view, std::string_view>> puts;
  puts.reserve(total);
  // The runs merged: the next entry is the least of the runs' heads, kept in a heap.
  using Head = std::pair<const Entry*, const Entry*>;  // a run's next entry and its end
  auto later = [](const Head& x, const Head& y) { return before(*y.first, *x.first); };
  std::vector<Head> heads;
  for (const auto& run : runs) {
    if (!run.empty()) heads.emplace_back(run.data(), run.data() + run.size());
  }
  std::make_heap(heads.begin(), heads.end(), later);
  while (!heads.empty()) {
    std::pop_heap(heads.begin(), heads.end(), later);
    Head& h = heads.back();
    puts.emplace_back(h.first->key(), h.first->value());
    if (++h.first == h.second) {
      heads.pop_back();
    } else {
      std::push_heap(heads.begin(), heads.end(), later);
    }
  }
  return writeSorted(etx, index, puts);
}

std::vector<std::pair<const orm::IndexCore*, orm::IndexInfo*>> buildingIndexes(
    const orm::TableCore& core, orm::TableInfo& info, bool held) {
  std::vector<std::pair<const orm::IndexCore*, orm::IndexInfo*>> out;
  for (const auto& ic : core.indexes()) {
    for (auto& ii : info.indexes) {
      if (ii.name == ic.schema.name && ii.state == orm::IndexState::Building && ii.held == held &&
          (!held || ic.schema.unique)) {
        out.emplace_back(&ic, &ii);
      }
    }
  }
  return out;
}

void restartBuild(engine::WriteTxn& txn, const orm::TableCore& core, orm::IndexInfo& ii) {
  txn.clearDb(core.index(ii.name).db);
  ii.startBuild();
}

BuildResult buildBatch(engine::WriteTxn& etx, const orm::TableCore& core, orm::TableInfo& info,
                       const EagerOptions& options, uint64_t limit) {
  auto building = buildingIndexes(core, info, false);
  Batch b = gather(etx, core, building, options, limit);
  BuildResult result;
  result.scanned = b.scanned;
  for (size_t i = 0; i < building.size(); ++i) {
    const orm::IndexCore& ic = *building[i].first;
    orm::IndexInfo& ii = *building[i].second;
    std::vector<std::string> problems = b.entries.write(etx, i, ic);
    if (!problems.empty()) {
      result.failure += (result.failure.empty() ? "" : "\n") +
                        failIndex(etx, core, ic, ii, std::move(problems), b.entries.unstorable(i));
      continue;
    }
    ii.done += b.entries.entered(i);
    if (!b.last.empty() && (ii.checkpoint.empty() || ii.checkpoint < b.last))
      ii.checkpoint = b.last;
    if (b.exhausted) {
      ii.state = orm::IndexState::Ready;
      ii.checkpoint.clear();
      ii.done = 0;
      ii.readySince = etx.snapshotId() + 1;  // this batch's commit
    }
    result.done = std::max(result.done, ii.done);
  }
  if (b.exhausted) result.done = info.records();
  return result;
}

}  // namespace capdb::migrate
