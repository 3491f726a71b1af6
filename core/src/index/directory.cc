#include "lcfs/index/directory.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <string>

#include "lcfs/byte_reader.h"
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

Status Truncated(size_t index, std::string_view name, const char* field) {
  return EntryError(index, name, std::string("truncated at ") + field);
}

Result<DirEntry> DecodeEntry(ByteReader& r, size_t index) {
  DirEntry e;
  auto name_length = r.U8();
  if (!name_length) return Truncated(index, "", "name length");
  if (*name_length == 0) return EntryError(index, "", "empty name");
  auto name = r.Bytes(*name_length);
  if (!name) return Truncated(index, "", "name");
  e.name.assign(name->begin(), name->end());
  uint8_t type = 0;
  if (!r.Read(&type)) return Truncated(index, e.name, "type");
  e.type = static_cast<EntryType>(type);
  if (!r.Read(&e.mode)) return Truncated(index, e.name, "mode");
  uint64_t mtime = 0;
  if (!r.Read(&mtime)) return Truncated(index, e.name, "mtime");
  e.mtime_sec = static_cast<int64_t>(mtime);
  if (!r.Read(&e.mtime_nsec)) return Truncated(index, e.name, "mtime nanoseconds");
  if (!r.Read(&e.size)) return Truncated(index, e.name, "size");
  switch (e.type) {
    case EntryType::kFile: {
      auto storage = r.U8();
      if (!storage) return Truncated(index, e.name, "file storage");
      if (*storage == kFileInline) {
        e.is_inline = true;
        if (e.size > kMaxInlineSize) break;  // ValidateEntry says why
        auto data = r.Bytes(e.size);
        if (!data) return Truncated(index, e.name, "inline data");
        e.inline_data.assign(data->begin(), data->end());
      } else if (*storage == kFileByHash) {
        if (!r.Array(&e.hash.bytes)) return Truncated(index, e.name, "file hash");
      } else {
        return EntryError(index, e.name, "unknown file storage " + std::to_string(*storage));
      }
      break;
    }
    case EntryType::kDirectory:
      if (!r.Array(&e.hash.bytes)) return Truncated(index, e.name, "directory hash");
      break;
    case EntryType::kSymlink: {
      if (e.size == 0 || e.size > kMaxSymlinkTargetLength) break;  // ValidateEntry says why
      auto target = r.Bytes(e.size);
      if (!target) return Truncated(index, e.name, "symlink target");
      e.symlink_target.assign(target->begin(), target->end());
      break;
    }
    default:
      break;  // ValidateEntry rejects the type
  }
  LCFS_RETURN_IF_ERROR(ValidateEntry(e, index));
  return e;
}

}  // namespace

const char* EntryTypeName(EntryType type) {
  static constexpr const char* kNames[] = {"file", "dir", "symlink"};
  const auto i = static_cast<size_t>(type) - 1;  // types start at 1
  return i < std::size(kNames) ? kNames[i] : "unknown";
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
  out.reserve(kHeaderSize + sorted.size() * 64);  // a typical entry's size
  ByteWriter w(&out);
  w.U8(kDirectoryVersion);
  w.U8(ChunkSizeLog2(dir.chunk_size));
  w.U32(static_cast<uint32_t>(sorted.size()));
  for (size_t i = 0; i < sorted.size(); ++i) {
    const DirEntry& e = *sorted[i];
    Status valid = ValidateEntry(e, i);
    if (!valid.ok()) return valid.WithContext("encode directory");
    if (i > 0 && sorted[i - 1]->name == e.name) {
      return EntryError(i, e.name, "duplicate name").WithContext("encode directory");
    }
    w.U8(static_cast<uint8_t>(e.name.size()));
    w.String(e.name);
    w.U8(static_cast<uint8_t>(e.type));
    w.U16(e.mode);
    w.U64(static_cast<uint64_t>(e.mtime_sec));
    w.U32(e.mtime_nsec);
    w.U64(e.size);
    switch (e.type) {
      case EntryType::kFile:
        w.U8(e.is_inline ? kFileInline : kFileByHash);
        if (e.is_inline) {
          w.Bytes(e.inline_data);
        } else {
          w.Bytes(e.hash.bytes);
        }
        break;
      case EntryType::kDirectory:
        w.Bytes(e.hash.bytes);
        break;
      case EntryType::kSymlink:
        w.String(e.symlink_target);
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
  ByteReader r(bytes);
  const auto version = r.U8();
  const auto log2_chunk = r.U8();
  const auto entries = r.U32();
  if (!version || !log2_chunk || !entries) {
    return fail(Status::Error(
        EINVAL, "truncated header (" + std::to_string(bytes.size()) + " bytes, need 6)"));
  }
  if (*version != kDirectoryVersion) {
    return fail(Status::Error(EINVAL, "unknown version " + std::to_string(*version)));
  }
  const uint64_t log2 = *log2_chunk, count = *entries;
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
