// A check of an LMDB data file's pages, read with pread and never through LMDB's map.
//
// LMDB trusts its file: a page that is not what its parent says (a zeroed leaf, a child number
// past the end, a node that runs off its page) makes it assert and abort, or read outside the
// map. checkPages walks the file as LMDB would (the newer valid meta page, the free and main
// trees, every named database's tree, overflow pages) and checks each page's header, type,
// bounds, node offsets and sizes, key order and tree links before anything reads it in place, so
// that damage is reported by page and database instead of ending the process. It reads the
// format of LMDB 0.9 on 64-bit systems (the format every capdb file has).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace capdb::engine {

struct PageReport {
  uint64_t pages = 0;               // pages visited
  std::vector<std::string> damage;  // what is wrong, by page and database; empty: none found
  bool ok() const { return damage.empty(); }
};

// Walks `dir`/data.mdb. A file that cannot be read is IoError; one that is not an LMDB file at
// all, or too short to hold its pages, is reported as damage. Stops after `maxDamage` findings.
PageReport checkPages(const std::filesystem::path& dir, size_t maxDamage = 100);

}  // namespace capdb::engine
