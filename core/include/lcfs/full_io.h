// Whole-buffer reads and writes on file descriptors.
//
// read(2) and write(2) may transfer fewer bytes than asked (signals, pipes,
// sockets, files on network filesystems) and fail with EINTR; every caller
// that wants "all of it" loops. These are that loop, once. Errors come back
// as a Status naming the call ("pread: ..."); callers add what they were
// reading.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "lcfs/status.h"

namespace lcfs {

// Reads into `buf` from the fd's current position until `buf` is full or the
// end of file. Returns the bytes read: less than buf.size() only at end of
// file, so callers decide whether a short file is an error and say why.
Result<size_t> ReadFull(int fd, std::span<uint8_t> buf);

// As ReadFull, from byte `offset` of the file (pread: the position is left
// alone, so threads may share the fd).
Result<size_t> PreadFull(int fd, std::span<uint8_t> buf, uint64_t offset);

// PreadFull for callers to whom a short file is an error: EIO "pread:
// unexpected end of file" then.
Status PreadExact(int fd, std::span<uint8_t> buf, uint64_t offset);

// Writes all of `bytes` at the fd's current position.
Status WriteFull(int fd, std::span<const uint8_t> bytes);

// Writes all of `bytes` at byte `offset` of the file.
Status PwriteFull(int fd, std::span<const uint8_t> bytes, uint64_t offset);

}  // namespace lcfs
