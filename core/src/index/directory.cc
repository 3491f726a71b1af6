#include "lcfs/index/directory.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "lcfs/index/chunking.h"
#include "lcfs/index/file_tree.h"
#include "lcfs/object.h"

namespace lcfs::index {
namespace {

// Layout (docs/protocol.md section 3): a 6-byte header, then the entries.
constexpr size_t kHeaderSize = 1 + 1 + 4;  // version, log2(chunk size), entry count
// name_len, name (>= 1), type, mode, mtime_sec, mtime_nsec, size, >= 1 byte of body.
constexpr size_t kMinEntrySize = 1 + 1 + 1 + 2 + 8 + 4 + 8 + 1;
constexpr uint8_t kFileByHash = 0;
constexpr uint8_t kFileInline = 1;

std::string Quote(std::string_view name) {
  std::string out = "\"";
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      static constexpr char kDigits[] = "0123456789abcdef";
      out += "\\x";
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

Status EntryError(size_t index, std::string_view name, const std::string& why) {
  return Status::Error(EINVAL, "entry " + std::to_string(index) + " (" + Quote(name) + "): " + why);
}

// Every rule on an entry's fields except ordering; shared by encoder and
// decoder so that they accept exactly the same entries.
Status ValidateEntry(const DirEntry& e, size_t index) {
  Status name = ValidateEntryName(e.name);
  if (!name.ok()) return EntryError(index, e.name, name.message());
  if (e.mode & ~07777) return EntryError(index, e.name, "mode has bits outside 07777");
  if (e.mtime_nsec >= 1000000000) return EntryError(index, e.name, "mtime nanoseconds >= 1e9");
  switch (e.type) {
    case EntryType::kFile:
      if (e.size > kMaxFileSize) return EntryError(index, e.name, "file size exceeds 2^63-1");
      if (e.is_inline) {
        if (e.size > kMaxInlineSize) {
          return EntryError(index, e.name,
                            "inline file of " + std::to_string(e.size) + " bytes exceeds " +
                                std::to_string(kMaxInlineSize));
        }
        if (e.inline_data.size() != e.size) {
          return EntryError(index, e.name, "inline data length differs from size");
        }
      } else if (e.size == 0) {
        return EntryError(index, e.name, "empty file not stored inline");
      }
      break;
    case EntryType::kDirectory:
      if (e.size < kHeaderSize || e.size > kMaxDirectoryObjectSize) {
        return EntryError(index, e.name,
                          "directory object size " + std::to_string(e.size) + " out of range");
      }
      break;
    case EntryType::kSymlink:
      if (e.size > kMaxSymlinkTargetLength || e.symlink_target.size() > kMaxSymlinkTargetLength) {
        return EntryError(index, e.name, "symlink target longer than PATH_MAX");
      }
      if (e.size == 0 || e.symlink_target.empty()) {
        return EntryError(index, e.name, "empty symlink target");
      }
      if (e.symlink_target.find('\0') != std::string::npos) {
        return EntryError(index, e.name, "symlink target contains NUL");
      }
      if (e.size != e.symlink_target.size()) {
        return EntryError(index, e.name, "symlink size differs from target length");
      }
      break;
    default:
      return EntryError(index, e.name,
                        "unknown type " + std::to_string(static_cast<unsigned>(e.type)));
  }
  if (e.type != EntryType::kFile && (e.is_inline || !e.inline_data.empty())) {
    return EntryError(index, e.name, "inline data on a non-file");
  }
  if ((e.type == EntryType::kSymlink || e.is_inline) && !e.hash.IsZero()) {
    return EntryError(index, e.name, "hash on an entry that has none");
  }
  if (e.type != EntryType::kSymlink && !e.symlink_target.empty()) {
    return EntryError(index, e.name, "symlink target on a non-symlink");
  }
  return Status::Ok();
}

void PutU16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}
void PutU64(std::vector<uint8_t>& out, uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}
void PutBytes(std::vector<uint8_t>& out, std::span<const uint8_t> b) {
  out.insert(out.end(), b.begin(), b.end());
}
void PutString(std::vector<uint8_t>& out, std::string_view s) {
  out.insert(out.end(), s.begin(), s.end());
}

// Bounds-checked big-endian reader; every Get fails instead of overrunning.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  size_t left() const { return in_.size() - pos_; }
  size_t pos() const { return pos_; }
  bool Get(uint64_t& v, int bytes) {
    if (left() < static_cast<size_t>(bytes)) return false;
    v = 0;
    for (int i = 0; i < bytes; ++i) v = v << 8 | in_[pos_++];
    return true;
  }
  bool GetSpan(std::span<const uint8_t>& out, size_t n) {
    if (left() < n) return false;
    out = in_.subspan(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

Status Truncated(size_t index, std::string_view name, const char* field) {
  return EntryError(index, name, std::string("truncated at ") + field);
}

Result<DirEntry> DecodeEntry(Reader& r, size_t index) {
  DirEntry e;
  uint64_t v;
  std::span<const uint8_t> b;
  if (!r.Get(v, 1)) return Truncated(index, "", "name length");
  if (v == 0) return EntryError(index, "", "empty name");
  if (!r.GetSpan(b, v)) return Truncated(index, "", "name");
  e.name.assign(b.begin(), b.end());
  if (!r.Get(v, 1)) return Truncated(index, e.name, "type");
  e.type = static_cast<EntryType>(v);
  if (!r.Get(v, 2)) return Truncated(index, e.name, "mode");
  e.mode = static_cast<uint16_t>(v);
  if (!r.Get(v, 8)) return Truncated(index, e.name, "mtime");
  e.mtime_sec = static_cast<int64_t>(v);
  if (!r.Get(v, 4)) return Truncated(index, e.name, "mtime nanoseconds");
  e.mtime_nsec = static_cast<uint32_t>(v);
  if (!r.Get(e.size, 8)) return Truncated(index, e.name, "size");
  switch (e.type) {
    case EntryType::kFile:
      if (!r.Get(v, 1)) return Truncated(index, e.name, "file storage");
      if (v == kFileInline) {
        e.is_inline = true;
        if (e.size > kMaxInlineSize) break;  // ValidateEntry says why
        if (!r.GetSpan(b, e.size)) return Truncated(index, e.name, "inline data");
        e.inline_data.assign(b.begin(), b.end());
      } else if (v == kFileByHash) {
        if (!r.GetSpan(b, Hash::kSize)) return Truncated(index, e.name, "file hash");
        e.hash = Hash::FromBytes(b.first<Hash::kSize>());
      } else {
        return EntryError(index, e.name, "unknown file storage " + std::to_string(v));
      }
      break;
    case EntryType::kDirectory:
      if (!r.GetSpan(b, Hash::kSize)) return Truncated(index, e.name, "directory hash");
      e.hash = Hash::FromBytes(b.first<Hash::kSize>());
      break;
    case EntryType::kSymlink:
      if (e.size == 0 || e.size > kMaxSymlinkTargetLength) break;  // ValidateEntry says why
      if (!r.GetSpan(b, e.size)) return Truncated(index, e.name, "symlink target");
      e.symlink_target.assign(b.begin(), b.end());
      break;
    default:
      break;  // ValidateEntry rejects the type
  }
  LCFS_RETURN_IF_ERROR(ValidateEntry(e, index));
  return e;
}

}  // namespace

const char* EntryTypeName(EntryType type) {
  switch (type) {
    case EntryType::kFile:
      return "file";
    case EntryType::kDirectory:
      return "dir";
    case EntryType::kSymlink:
      return "symlink";
  }
  return "unknown";
}

Hash DirEntry::ContentHash() const {
  if (type == EntryType::kFile && is_inline) {
    return ObjectHash(ObjectKind::kChunk, inline_data);  // EmptyFileHash() when empty
  }
  return hash;
}

const DirEntry* Directory::Find(std::string_view name) const {
  auto it = std::lower_bound(entries.begin(), entries.end(), name,
                             [](const DirEntry& e, std::string_view n) { return e.name < n; });
  return it != entries.end() && it->name == name ? &*it : nullptr;
}

Status ValidateEntryName(std::string_view name) {
  if (name.empty()) return Status::Error(EINVAL, "empty name");
  if (name == "." || name == "..") return Status::Error(EINVAL, "name is . or ..");
  if (name.size() > kMaxNameLength) {
    return Status::Error(EINVAL, "name of " + std::to_string(name.size()) + " bytes exceeds 255");
  }
  if (name.find('/') != std::string_view::npos) return Status::Error(EINVAL, "name contains '/'");
  if (name.find('\0') != std::string_view::npos) return Status::Error(EINVAL, "name contains NUL");
  return Status::Ok();
}

Result<std::vector<uint8_t>> EncodeDirectory(const Directory& dir) {
  Status cs = ValidateChunkSize(dir.chunk_size);
  if (!cs.ok()) return cs.WithContext("encode directory");
  std::vector<const DirEntry*> sorted;
  sorted.reserve(dir.entries.size());
  for (const DirEntry& e : dir.entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(),
            [](const DirEntry* a, const DirEntry* b) { return a->name < b->name; });
  if (sorted.size() > UINT32_MAX)
    return Status::Error(EINVAL, "encode directory: too many entries");

  std::vector<uint8_t> out;
  out.push_back(kDirectoryVersion);
  out.push_back(ChunkSizeLog2(dir.chunk_size));
  PutU32(out, static_cast<uint32_t>(sorted.size()));
  for (size_t i = 0; i < sorted.size(); ++i) {
    const DirEntry& e = *sorted[i];
    Status valid = ValidateEntry(e, i);
    if (!valid.ok()) return valid.WithContext("encode directory");
    if (i > 0 && sorted[i - 1]->name == e.name) {
      return EntryError(i, e.name, "duplicate name").WithContext("encode directory");
    }
    out.push_back(static_cast<uint8_t>(e.name.size()));
    PutString(out, e.name);
    out.push_back(static_cast<uint8_t>(e.type));
    PutU16(out, e.mode);
    PutU64(out, static_cast<uint64_t>(e.mtime_sec));
    PutU32(out, e.mtime_nsec);
    PutU64(out, e.size);
    switch (e.type) {
      case EntryType::kFile:
        out.push_back(e.is_inline ? kFileInline : kFileByHash);
        if (e.is_inline) {
          PutBytes(out, e.inline_data);
        } else {
          PutBytes(out, e.hash.bytes);
        }
        break;
      case EntryType::kDirectory:
        PutBytes(out, e.hash.bytes);
        break;
      case EntryType::kSymlink:
        PutString(out, e.symlink_target);
        break;
    }
  }
  if (out.size() > kMaxDirectoryObjectSize) {
    return Status::Error(EFBIG, "encode directory: " + std::to_string(out.size()) +
                                    " bytes exceeds the directory object limit");
  }
  return out;
}

Result<Directory> DecodeDirectory(std::span<const uint8_t> bytes) {
  auto fail = [](const Status& s) { return s.WithContext("decode directory"); };
  if (bytes.size() > kMaxDirectoryObjectSize) {
    return fail(Status::Error(EINVAL, std::to_string(bytes.size()) + " bytes exceeds the limit"));
  }
  Reader r(bytes);
  uint64_t version, log2, count;
  if (!r.Get(version, 1) || !r.Get(log2, 1) || !r.Get(count, 4)) {
    return fail(Status::Error(
        EINVAL, "truncated header (" + std::to_string(bytes.size()) + " bytes, need 6)"));
  }
  if (version != kDirectoryVersion) {
    return fail(Status::Error(EINVAL, "unknown version " + std::to_string(version)));
  }
  Directory dir;
  if (log2 >= 32) return fail(Status::Error(EINVAL, "chunk size 2^" + std::to_string(log2)));
  dir.chunk_size = static_cast<uint32_t>(uint64_t{1} << log2);
  Status cs = ValidateChunkSize(uint64_t{1} << log2);
  if (!cs.ok()) return fail(cs);
  // Bound the allocation by the input: every entry takes kMinEntrySize bytes.
  if (count > r.left() / kMinEntrySize) {
    return fail(Status::Error(EINVAL, std::to_string(count) + " entries cannot fit in " +
                                          std::to_string(r.left()) + " bytes"));
  }
  // Reserve only what a short input could hold; a long one grows as it
  // decodes, so memory follows the bytes actually decoded.
  dir.entries.reserve(std::min<uint64_t>(count, 4096));
  for (size_t i = 0; i < count; ++i) {
    auto e = DecodeEntry(r, i);
    if (!e.ok()) return fail(e.status());
    if (i > 0) {
      const std::string& prev = dir.entries.back().name;
      if (prev == e->name) return fail(EntryError(i, e->name, "duplicate name"));
      if (e->name < prev) return fail(EntryError(i, e->name, "not sorted after " + Quote(prev)));
    }
    dir.entries.push_back(std::move(e).value());
  }
  if (r.left() != 0) {
    return fail(Status::Error(EINVAL, std::to_string(r.left()) + " trailing bytes after " +
                                          std::to_string(count) + " entries"));
  }
  return dir;
}

Hash DirectoryHash(std::span<const uint8_t> bytes) {
  return ObjectHash(ObjectKind::kDirectory, bytes);
}

}  // namespace lcfs::index
