// Directory objects: one per directory, listing its entries canonically.
//
// Entries are sorted by name bytes (memcmp order) with no duplicates, and
// every field has exactly one encoding, so the same tree yields the same
// directory objects, and the same root HASH, on any machine. Files up to
// kMaxInlineSize bytes may carry their content inline (saving a chunk fetch);
// the exporter chooses the threshold (IndexOptions::inline_max). Byte layout
// and the reasons for the threshold: docs/protocol.md section 3.
//
// DecodeDirectory is the strict decoder for bytes from the network: it
// rejects anything EncodeDirectory would not produce, with an error naming
// the entry and the rule, and never allocates more than the input's length.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/status.h"

namespace lcfs::index {

inline constexpr uint8_t kDirectoryVersion = 1;
inline constexpr size_t kMaxNameLength = 255;            // NAME_MAX
inline constexpr size_t kMaxSymlinkTargetLength = 4095;  // PATH_MAX less the NUL
inline constexpr size_t kMaxInlineSize = 4096;           // protocol limit on inline data
// Default inline threshold used by the indexer (see protocol.md section 3).
inline constexpr size_t kDefaultInlineMax = 1024;
// Largest directory object accepted (about a million entries).
inline constexpr size_t kMaxDirectoryObjectSize = 64u << 20;

enum class EntryType : uint8_t {
  kFile = 1,
  kDirectory = 2,
  kSymlink = 3,
};
const char* EntryTypeName(EntryType type);

struct DirEntry {
  std::string name;  // 1..255 bytes, not "." or "..", no '/' or NUL
  EntryType type = EntryType::kFile;
  uint16_t mode = 0;  // permission bits only (st_mode & 07777)
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;  // < 1e9
  // File: content length. Directory: length of its directory object (so a
  // receiver can bound the fetch). Symlink: target length.
  uint64_t size = 0;
  // File (not inline): the file hash (file_tree.h). Directory: the directory
  // object's hash. Zero for symlinks and inline files.
  Hash hash;
  // Files only: content carried in the entry (size == inline_data.size()).
  bool is_inline = false;
  std::vector<uint8_t> inline_data;
  std::string symlink_target;  // symlinks only: 1..4095 bytes, no NUL

  // The hash naming this entry's content: `hash`, or for an inline file the
  // hash the file would have as a chunk (ObjectHash(kChunk, inline_data)).
  Hash ContentHash() const;

  bool operator==(const DirEntry&) const = default;
};

struct Directory {
  uint32_t chunk_size = 0;        // the export's chunk size (chunking.h)
  std::vector<DirEntry> entries;  // sorted by name, unique (after decode / for encode)

  // Binary search by name; nullptr if absent. Entries must be sorted.
  const DirEntry* Find(std::string_view name) const;

  bool operator==(const Directory&) const = default;
};

// OK if `name` is a valid entry name; else EINVAL saying why.
Status ValidateEntryName(std::string_view name);

// Canonical encoding. Sorts the entries by name (the input may be in any
// order); fails with EINVAL on a duplicate name or any field the decoder
// would reject.
Result<std::vector<uint8_t>> EncodeDirectory(const Directory& dir);

// Strict decode (see above). Errors are EINVAL ("directory entry 3 (\"foo\"):
// name contains '/'"), never a crash.
Result<Directory> DecodeDirectory(std::span<const uint8_t> bytes);

// ObjectHash(kDirectory, bytes).
Hash DirectoryHash(std::span<const uint8_t> bytes);

}  // namespace lcfs::index
