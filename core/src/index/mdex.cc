#include "lcfs/index/mdex.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "lcfs/full_io.h"
#include "lcfs/unique_fd.h"

namespace lcfs::index {

// 48 bytes. `tag` packs where the bytes are, the kind and the file id; a
// zero tag is an empty slot.
struct Mdex::Slot {
  Hash hash;
  uint64_t offset = 0;  // file range: offset; in memory: blob index
  uint32_t length = 0;
  uint32_t tag = 0;
};
static_assert(sizeof(Hash) == 32);

struct Mdex::Blob {
  std::vector<uint8_t> bytes;
  uint32_t refs = 0;  // slots naming it (the entry and its aliases)
};

namespace {

constexpr uint32_t kWhereShift = 30;  // 2 bits: 1 = file range, 2 = in memory
constexpr uint32_t kInFile = 1, kInMemory = 2;
constexpr uint32_t kAliasBit = 1u << 29;
constexpr uint32_t kKindShift = 27;  // 2 bits
constexpr uint32_t kFileIdMask = (1u << kKindShift) - 1;

uint32_t Where(uint32_t tag) { return tag >> kWhereShift; }
ObjectKind KindOf(uint32_t tag) { return static_cast<ObjectKind>((tag >> kKindShift) & 3); }
uint32_t MakeTag(uint32_t where, ObjectKind kind, uint32_t file) {
  return where << kWhereShift | static_cast<uint32_t>(kind) << kKindShift | file;
}

// The first 8 bytes of `bytes` (zero padded) as a big-endian integer.
uint64_t Top64(std::span<const uint8_t> bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = v << 8 | (i < bytes.size() ? bytes[i] : 0);
  return v;
}

bool PrefixMatches(const Hash& h, std::span<const uint8_t> prefix, size_t bits) {
  const size_t full = bits / 8;
  if (std::memcmp(h.bytes.data(), prefix.data(), full) != 0) return false;
  if (bits % 8 == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - bits % 8));
  return (h.bytes[full] & mask) == (prefix[full] & mask);
}

}  // namespace

Mdex::Mdex() = default;
Mdex::~Mdex() = default;
Mdex::Mdex(Mdex&&) noexcept = default;
Mdex& Mdex::operator=(Mdex&&) noexcept = default;

Mdex::FileId Mdex::AddFile(std::string path) {
  files_.push_back(std::move(path));
  return static_cast<FileId>(files_.size() - 1);
}

size_t Mdex::HomeSlot(const Hash& hash) const {
  return static_cast<size_t>(Top64(hash.bytes) >> (64 - slot_bits_));
}

std::optional<size_t> Mdex::FindSlot(const Hash& hash) const {
  if (slots_.empty()) return std::nullopt;
  const size_t mask = slots_.size() - 1;
  for (size_t i = HomeSlot(hash);; i = (i + 1) & mask) {
    if (slots_[i].tag == 0) return std::nullopt;
    if (slots_[i].hash == hash) return i;
  }
}

void Mdex::Reserve(size_t entries) {
  int bits = std::max(slot_bits_, 4);
  while ((size_t{1} << bits) * 3 < entries * 4) ++bits;
  if (bits != slot_bits_) Rehash(bits);
}

void Mdex::Rehash(int bits) {
  std::vector<Slot> old = std::move(slots_);
  slot_bits_ = bits;
  slots_.assign(size_t{1} << slot_bits_, Slot{});
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.tag == 0) continue;
    size_t i = HomeSlot(s.hash);
    while (slots_[i].tag != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

bool Mdex::Insert(const Slot& slot) {
  if ((count_ + 1) * 4 > slots_.size() * 3) Rehash(slots_.empty() ? 4 : slot_bits_ + 1);
  const size_t mask = slots_.size() - 1;
  size_t i = HomeSlot(slot.hash);
  for (; slots_[i].tag != 0; i = (i + 1) & mask) {
    if (slots_[i].hash == slot.hash) return false;
  }
  slots_[i] = slot;
  ++count_;
  return true;
}

bool Mdex::Add(const Hash& hash, ObjectKind kind, FileId file, uint64_t offset, uint32_t length) {
  if (file >= files_.size() || file > kFileIdMask) return false;
  return Insert(Slot{hash, offset, length, MakeTag(kInFile, kind, file)});
}

bool Mdex::Put(const Hash& hash, ObjectKind kind, std::vector<uint8_t> bytes) {
  if (FindSlot(hash)) return false;
  uint32_t blob;
  if (!free_blobs_.empty()) {
    blob = free_blobs_.back();
    free_blobs_.pop_back();
  } else {
    blob = static_cast<uint32_t>(blobs_.size());
    blobs_.emplace_back();
  }
  const uint32_t length = static_cast<uint32_t>(bytes.size());
  blobs_[blob].bytes = std::move(bytes);
  blobs_[blob].refs = 1;
  return Insert(Slot{hash, blob, length, MakeTag(kInMemory, kind, 0)});
}

Status Mdex::Alias(const Hash& alias, const Hash& target) {
  auto t = FindSlot(target);
  if (!t) return Status::Error(ENOENT, "mdex alias: target " + target.ToHex() + " not found");
  if (FindSlot(alias)) {
    return Status::Error(EEXIST, "mdex alias: " + alias.ToHex() + " already present");
  }
  Slot s = slots_[*t];
  s.hash = alias;
  s.tag |= kAliasBit;
  if (Where(s.tag) == kInMemory) ++blobs_[s.offset].refs;
  Insert(s);
  return Status::Ok();
}

void Mdex::ReleaseBlob(uint32_t blob) {
  if (--blobs_[blob].refs == 0) {
    std::vector<uint8_t>().swap(blobs_[blob].bytes);
    free_blobs_.push_back(blob);
  }
}

bool Mdex::Del(const Hash& hash) {
  auto found = FindSlot(hash);
  if (!found) return false;
  size_t hole = *found;
  if (Where(slots_[hole].tag) == kInMemory) ReleaseBlob(static_cast<uint32_t>(slots_[hole].offset));
  // Backward-shift deletion keeps every run contiguous (no tombstones): move
  // back each later entry of the run whose home is not between hole and it.
  const size_t mask = slots_.size() - 1;
  for (size_t j = (hole + 1) & mask; slots_[j].tag != 0; j = (j + 1) & mask) {
    const size_t home = HomeSlot(slots_[j].hash);
    const bool home_in_gap = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!home_in_gap) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = Slot{};
  --count_;
  return true;
}

std::optional<Mdex::Location> Mdex::Get(const Hash& hash) const {
  auto i = FindSlot(hash);
  if (!i) return std::nullopt;
  const Slot& s = slots_[*i];
  Location loc;
  loc.kind = KindOf(s.tag);
  loc.length = s.length;
  if (Where(s.tag) == kInMemory) {
    loc.in_memory = true;
    loc.bytes = blobs_[s.offset].bytes;
  } else {
    loc.file = s.tag & kFileIdMask;
    loc.offset = s.offset;
  }
  return loc;
}

std::vector<Hash> Mdex::FindByPrefix(std::span<const uint8_t> prefix, size_t prefix_bits,
                                     size_t max_results) const {
  std::vector<Hash> out;
  prefix_bits = std::min({prefix_bits, prefix.size() * 8, size_t{256}});
  if (slots_.empty() || max_results == 0) return out;
  // Hashes with this prefix have their home slots in [lo, lo + span): the
  // table is indexed by the top bits of the hash.
  const uint64_t top = Top64(prefix);
  size_t lo, span;
  if (prefix_bits >= static_cast<size_t>(slot_bits_)) {
    lo = static_cast<size_t>(top >> (64 - slot_bits_));
    span = 1;
  } else {
    const size_t free_bits = static_cast<size_t>(slot_bits_) - prefix_bits;
    lo = prefix_bits == 0 ? 0 : static_cast<size_t>(top >> (64 - prefix_bits)) << free_bits;
    span = size_t{1} << free_bits;
  }
  // Entries are at or after their home, within their run: scan the home
  // range, then on to the end of the last run.
  const size_t mask = slots_.size() - 1;
  for (size_t step = 0; step < slots_.size(); ++step) {
    const Slot& s = slots_[(lo + step) & mask];
    if (s.tag == 0) {
      if (step >= span) break;
      continue;
    }
    if (PrefixMatches(s.hash, prefix, prefix_bits)) {
      out.push_back(s.hash);
      if (out.size() == max_results) break;
    }
  }
  return out;
}

Result<std::vector<uint8_t>> Mdex::Read(const Hash& hash) const {
  auto i = FindSlot(hash);
  if (!i) return Status::Error(ENOENT, "object " + hash.ToHex() + " not in the index");
  const Slot& s = slots_[*i];
  if (Where(s.tag) == kInMemory) return blobs_[s.offset].bytes;
  std::vector<uint8_t> bytes(s.length);
  LCFS_RETURN_IF_ERROR(ReadInto(hash, bytes));
  return bytes;
}

Status Mdex::ReadInto(const Hash& hash, std::span<uint8_t> out) const {
  auto i = FindSlot(hash);
  if (!i) return Status::Error(ENOENT, "object " + hash.ToHex() + " not in the index");
  const Slot& s = slots_[*i];
  const bool in_memory = Where(s.tag) == kInMemory;
  const size_t length = in_memory ? blobs_[s.offset].bytes.size() : s.length;
  if (out.size() != length) {
    return Status::Error(EINVAL, "object " + hash.ToHex() + " is " + std::to_string(length) +
                                     " bytes, not " + std::to_string(out.size()));
  }
  if (in_memory) {
    const std::vector<uint8_t>& bytes = blobs_[s.offset].bytes;
    std::copy(bytes.begin(), bytes.end(), out.begin());
    return Status::Ok();
  }
  const std::string& path = files_[s.tag & kFileIdMask];
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open " + path);
  auto n = PreadFull(fd.get(), out, s.offset);
  if (!n.ok()) return n.status().WithContext("read " + path);
  if (*n < out.size()) {
    return Status::Error(EIO, path + " shrank since it was indexed (object " + hash.ToHex() + ")");
  }
  // Aliases name the bytes by another name: nothing to check them against.
  if (!(s.tag & kAliasBit) && ObjectHash(KindOf(s.tag), out) != hash) {
    return Status::Error(EIO, path + " changed since it was indexed (object " + hash.ToHex() + ")");
  }
  return Status::Ok();
}

size_t Mdex::MemoryUsage() const {
  size_t total = slots_.capacity() * sizeof(Slot) + files_.capacity() * sizeof(std::string) +
                 blobs_.capacity() * sizeof(Blob) + free_blobs_.capacity() * sizeof(uint32_t);
  for (const std::string& f : files_) total += f.capacity() > 15 ? f.capacity() + 1 : 0;
  for (const Blob& b : blobs_) total += b.bytes.capacity();
  return total;
}

Result<std::vector<uint8_t>> MdexObjectSource::Fetch(const FetchRequest& request) {
  const Hash& hash = request.hash;
  const ObjectKind kind = request.kind;
  auto loc = mdex_->Get(hash);
  if (!loc || loc->kind != kind) {
    return Status::Error(ENOENT, "object " + hash.ToHex() + " not in the local index");
  }
  auto bytes = mdex_->Read(hash);
  if (!bytes.ok()) return bytes.status();
  if (ObjectHash(kind, *bytes) != hash) {
    return Status::Error(EIO, "object " + hash.ToHex() + " does not verify");
  }
  LCFS_RETURN_IF_ERROR(CheckExpectedSize(request, bytes->size()));
  fetches_.fetch_add(1, std::memory_order_relaxed);
  return bytes;
}

}  // namespace lcfs::index
