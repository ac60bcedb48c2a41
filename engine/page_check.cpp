#include "engine/page_check.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "engine/fail.h"

namespace capdb::engine {
namespace {

// LMDB 0.9's file format (mdb.c): a page header, then node offsets growing down from the header
// and nodes growing up from the page's end.
constexpr uint32_t kMagic = 0xBEEFC0DE;
constexpr uint32_t kDataVersion = 1;
constexpr size_t kPageHeader = 16;  // mp_pgno (8), mp_pad (2), mp_flags (2), lower/upper or pages (4)
constexpr size_t kNodeHeader = 8;   // mn_lo (2), mn_hi (2), mn_flags (2), mn_ksize (2)
constexpr size_t kDbRecord = 48;    // MDB_db
constexpr uint16_t kBranch = 0x01, kLeaf = 0x02, kOverflow = 0x04, kMeta = 0x08, kLeaf2 = 0x20;
constexpr uint16_t kBigData = 0x01, kSubData = 0x02, kDupData = 0x04;
constexpr uint16_t kIntegerKey = 0x08, kDupSort = 0x04;
constexpr uint64_t kNoPage = ~uint64_t{0};
constexpr int kMaxDepth = 32;

template <typename T>
T load(std::string_view bytes, size_t at) {
  T v;
  std::memcpy(&v, bytes.data() + at, sizeof v);
  return v;
}

struct DbRecord {
  uint32_t pad = 0;
  uint16_t flags = 0;
  uint16_t depth = 0;
  uint64_t entries = 0;
  uint64_t root = kNoPage;
};

DbRecord dbRecord(std::string_view bytes) {
  DbRecord d;
  d.pad = load<uint32_t>(bytes, 0);
  d.flags = load<uint16_t>(bytes, 4);
  d.depth = load<uint16_t>(bytes, 6);
  d.entries = load<uint64_t>(bytes, 32);
  d.root = load<uint64_t>(bytes, 40);
  return d;
}

class Walker {
 public:
  Walker(int fd, uint64_t fileSize, PageReport& report, size_t maxDamage)
      : fd_(fd), fileSize_(fileSize), report_(report), maxDamage_(maxDamage) {}

  void run() {
    struct Meta {
      bool valid = false;
      uint64_t txnid = 0, lastPage = 0;
      uint32_t pageSize = 0;
      DbRecord free, main;
    };
    // The first meta page tells the page size; the second lies one page further.
    auto readMeta = [&](uint64_t offset) {
      Meta m;
      std::string bytes(kPageHeader + 4 + 4 + 8 + 8 + 2 * kDbRecord + 8 + 8, '\0');
      if (!readAt(offset, bytes)) return m;
      uint16_t flags = load<uint16_t>(bytes, 10);
      size_t at = kPageHeader;
      if (!(flags & kMeta) || load<uint32_t>(bytes, at) != kMagic ||
          load<uint32_t>(bytes, at + 4) != kDataVersion) {
        return m;
      }
      at += 4 + 4 + 8 + 8;
      m.free = dbRecord(std::string_view(bytes).substr(at, kDbRecord));
      m.main = dbRecord(std::string_view(bytes).substr(at + kDbRecord, kDbRecord));
      m.lastPage = load<uint64_t>(bytes, at + 2 * kDbRecord);
      m.txnid = load<uint64_t>(bytes, at + 2 * kDbRecord + 8);
      m.pageSize = m.free.pad;
      m.valid = m.pageSize >= 512 && m.pageSize <= (1u << 16) && (m.pageSize & (m.pageSize - 1)) == 0;
      return m;
    };
    Meta first = readMeta(0);
    Meta second = readMeta(first.valid ? first.pageSize : 4096);
    if (!first.valid && !second.valid) {
      damage("data.mdb is not an LMDB file (no valid meta page)");
      return;
    }
    const Meta& meta = !second.valid || (first.valid && first.txnid >= second.txnid) ? first : second;
    pageSize_ = meta.pageSize;
    lastPage_ = meta.lastPage;
    uint64_t needed = (lastPage_ + 1) * pageSize_;
    if (fileSize_ < needed) {
      damage(fmt::format("data.mdb is truncated: {} bytes, but its last page ({}) ends at byte {}",
                         fileSize_, lastPage_, needed));
    }
    seen_.assign(lastPage_ + 1, false);
    seen_[0] = seen_[1] = true;
    report_.pages = 2;
    walkTree("(free pages)", meta.free, false);
    walkTree("(main)", meta.main, true);
  }

 private:
  bool full() const { return report_.damage.size() >= maxDamage_; }
  void damage(std::string what) {
    if (!full()) report_.damage.push_back(std::move(what));
  }

  bool readAt(uint64_t offset, std::string& out) {
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads page `pgno` of `db` into page_, once: false (with the damage noted) when it lies
  // outside the file or was reached before.
  bool visit(const std::string& db, uint64_t pgno, std::string& page, const char* what) {
    if (pgno < 2 || pgno > lastPage_) {
      damage(fmt::format("database {}: {} points to page {}, outside the file's pages 2..{}", db,
                         what, pgno, lastPage_));
      return false;
    }
    if (seen_[pgno]) {
      damage(fmt::format("database {}: page {} is reached twice (a loop, or two owners)", db, pgno));
      return false;
    }
    seen_[pgno] = true;
    ++report_.pages;
    page.assign(pageSize_, '\0');
    if (!readAt(pgno * pageSize_, page)) {
      damage(fmt::format("database {}: page {} lies past the end of the file", db, pgno));
      return false;
    }
    if (load<uint64_t>(page, 0) != pgno) {
      damage(fmt::format("database {}: page {} says it is page {}", db, pgno, load<uint64_t>(page, 0)));
      return false;
    }
    return true;
  }

  void walkTree(const std::string& name, const DbRecord& db, bool named) {
    if (full()) return;
    if (db.root == kNoPage) {
      if (db.entries != 0) {
        damage(fmt::format("database {}: no root page, but {} entries", name, db.entries));
      }
      return;
    }
    if (db.depth == 0 || db.depth > kMaxDepth) {
      damage(fmt::format("database {}: a tree depth of {}", name, db.depth));
      return;
    }
    uint64_t entries = 0;
    walkPage(name, db, db.root, db.depth, named, entries);
    if (!full() && !(db.flags & kDupSort) && entries != db.entries) {
      damage(fmt::format("database {}: its pages hold {} entries, its record says {}", name,
                         entries, db.entries));
    }
  }

  void walkPage(const std::string& name, const DbRecord& db, uint64_t pgno, int levels, bool named,
                uint64_t& entries) {
    if (full()) return;
    std::string page;
    if (!visit(name, pgno, page, levels == db.depth ? "its root" : "a branch")) return;
    uint16_t flags = load<uint16_t>(page, 10);
    bool leaf = levels == 1;
    if (leaf ? !(flags & kLeaf) || (flags & kBranch) : !(flags & kBranch) || (flags & kLeaf)) {
      damage(fmt::format("database {}: page {} should be a {} page, its flags are {:#x}", name,
                         pgno, leaf ? "leaf" : "branch", flags));
      return;
    }
    uint16_t lower = load<uint16_t>(page, 12), upper = load<uint16_t>(page, 14);
    if (lower < kPageHeader || lower > upper || upper > pageSize_ || (lower - kPageHeader) % 2 != 0) {
      damage(fmt::format("database {}: page {} has bounds {}..{} in a page of {} bytes", name, pgno,
                         lower, upper, pageSize_));
      return;
    }
    size_t keys = (lower - kPageHeader) / 2;
    if (flags & kLeaf2) {  // fixed-size duplicates: keys only
      entries += keys;
      return;
    }
    if (keys == 0 && levels != db.depth) {
      damage(fmt::format("database {}: page {} is empty", name, pgno));
      return;
    }
    bool ordered = !(db.flags & kIntegerKey);
    std::string_view previous;
    for (size_t i = 0; i < keys && !full(); ++i) {
      uint16_t at = load<uint16_t>(page, kPageHeader + 2 * i);
      if (at < upper || at + kNodeHeader > pageSize_) {
        damage(fmt::format("database {}: page {} node {} lies at {}, outside {}..{}", name, pgno, i,
                           at, upper, pageSize_));
        return;
      }
      uint16_t lo = load<uint16_t>(page, at), hi = load<uint16_t>(page, at + 2);
      uint16_t nodeFlags = load<uint16_t>(page, at + 4), keySize = load<uint16_t>(page, at + 6);
      size_t keyAt = at + kNodeHeader;
      if (keyAt + keySize > pageSize_) {
        damage(fmt::format("database {}: page {} node {} has a key of {} bytes that runs off the page",
                           name, pgno, i, keySize));
        return;
      }
      std::string_view key(page.data() + keyAt, keySize);
      // A branch page's first key is not stored: it stands for everything below the second.
      if (ordered && (leaf || i > 0)) {
        if ((leaf ? i > 0 : i > 1) && !(previous < key)) {
          damage(fmt::format("database {}: page {} keys {} and {} are out of order", name, pgno,
                             i - 1, i));
          return;
        }
        previous = key;
      }
      if (!leaf) {
        uint64_t child = uint64_t{lo} | (uint64_t{hi} << 16) | (uint64_t{nodeFlags} << 32);
        walkPage(name, db, child, levels - 1, named, entries);
        continue;
      }
      ++entries;
      uint64_t dataSize = uint64_t{lo} | (uint64_t{hi} << 16);
      size_t dataAt = keyAt + keySize;
      if (nodeFlags & kBigData) {
        if (dataAt + 8 > pageSize_) {
          damage(fmt::format("database {}: page {} node {} runs off the page", name, pgno, i));
          return;
        }
        checkOverflow(name, load<uint64_t>(page, dataAt), dataSize);
        continue;
      }
      if (dataAt + dataSize > pageSize_) {
        damage(fmt::format("database {}: page {} node {} has {} bytes of data that run off the page",
                           name, pgno, i, dataSize));
        return;
      }
      if (nodeFlags & kSubData) {
        if (dataSize != kDbRecord) {
          damage(fmt::format("database {}: page {} node {} holds a database record of {} bytes",
                             name, pgno, i, dataSize));
          return;
        }
        DbRecord sub = dbRecord(std::string_view(page).substr(dataAt, kDbRecord));
        if (nodeFlags & kDupData) {
          walkTree(name + " (duplicates)", sub, false);
        } else if (named) {
          walkTree(std::string(key), sub, false);
        }
      }
    }
  }

  void checkOverflow(const std::string& name, uint64_t pgno, uint64_t dataSize) {
    std::string page;
    if (!visit(name, pgno, page, "a large value")) return;
    uint16_t flags = load<uint16_t>(page, 10);
    uint32_t pages = load<uint32_t>(page, 12);
    if (!(flags & kOverflow) || pages == 0 || pgno + pages - 1 > lastPage_ ||
        dataSize > uint64_t{pages} * pageSize_ - kPageHeader) {
      damage(fmt::format("database {}: overflow page {} ({} pages, flags {:#x}) cannot hold a value "
                         "of {} bytes",
                         name, pgno, pages, flags, dataSize));
      return;
    }
    for (uint64_t p = pgno + 1; p < pgno + pages; ++p) {
      if (seen_[p]) {
        damage(fmt::format("database {}: page {} is reached twice (a loop, or two owners)", name, p));
        return;
      }
      seen_[p] = true;
      ++report_.pages;
    }
  }

  int fd_;
  uint64_t fileSize_;
  PageReport& report_;
  size_t maxDamage_;
  uint32_t pageSize_ = 0;
  uint64_t lastPage_ = 0;
  std::vector<bool> seen_;
};

}  // namespace

PageReport checkPages(const std::filesystem::path& dir, size_t maxDamage) {
  std::filesystem::path file = dir / "data.mdb";
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  CAPDB_REQUIRE(fd >= 0, ErrorCode::IoError, "{}: cannot open: {}", file.string(), std::strerror(errno));
  PageReport report;
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(file, ec);
  if (ec) {
    ::close(fd);
    fail(ErrorCode::IoError, "{}: cannot read its size: {}", file.string(), ec.message());
  }
  Walker(fd, size, report, maxDamage).run();
  ::close(fd);
  return report;
}

}  // namespace capdb::engine
