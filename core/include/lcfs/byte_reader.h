// ByteReader and ByteWriter: big-endian fields in and out of byte buffers.
//
// Every format lcfs puts on the wire or on disk (docs/protocol.md) is a run
// of big-endian integers and fixed-size byte strings. The codecs read them
// through ByteReader, whose every read is bounds-checked: a read past the end
// returns std::nullopt and consumes nothing, so a parser of untrusted bytes
// cannot overrun and says which field was truncated. ByteWriter is its
// mirror for encoders.
//
// Neither class is thread-safe; each is a cursor for one codec call.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "lcfs/check.h"

namespace lcfs {

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> in) : in_(in) {}

  size_t pos() const { return pos_; }
  size_t left() const { return in_.size() - pos_; }
  // What is not read yet.
  std::span<const uint8_t> rest() const { return in_.subspan(pos_); }

  // An unsigned integer of `bytes` bytes (1 to 8), most significant first.
  std::optional<uint64_t> Uint(size_t bytes) {
    LCFS_DCHECK(bytes >= 1 && bytes <= 8);
    if (left() < bytes) return std::nullopt;
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v = v << 8 | in_[pos_++];
    return v;
  }
  std::optional<uint8_t> U8() { return Narrow<uint8_t>(Uint(1)); }
  std::optional<uint16_t> U16() { return Narrow<uint16_t>(Uint(2)); }
  std::optional<uint32_t> U32() { return Narrow<uint32_t>(Uint(4)); }
  std::optional<uint64_t> U64() { return Uint(8); }

  // The next `n` bytes, pointing into the input.
  std::optional<std::span<const uint8_t>> Bytes(size_t n) {
    if (left() < n) return std::nullopt;
    auto out = in_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  // The next N bytes into *out; false (nothing consumed) if fewer remain.
  template <size_t N>
  bool Array(std::array<uint8_t, N>* out) {
    auto b = Bytes(N);
    if (!b) return false;
    std::memcpy(out->data(), b->data(), N);
    return true;
  }
  bool Skip(size_t n) { return Bytes(n).has_value(); }
  // An unsigned integer of sizeof(T) bytes into *out; false (nothing
  // consumed, *out unchanged) if fewer remain. For decoders that fill a
  // struct field by field.
  template <typename T>
  requires std::is_unsigned_v<T>
  bool Read(T* out) {
    auto v = Uint(sizeof(T));
    if (!v) return false;
    *out = static_cast<T>(*v);
    return true;
  }

 private:
  template <typename T>
  static std::optional<T> Narrow(std::optional<uint64_t> v) {
    if (!v) return std::nullopt;
    return static_cast<T>(*v);
  }

  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

// Writes fields either appended to a vector (which grows) or into a fixed
// buffer from its start (which the caller sizes: overrunning it is a bug,
// checked in debug builds).
class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>* out) : vec_(out) {}
  explicit ByteWriter(std::span<uint8_t> out) : fixed_(out) {}

  // Bytes written so far by this writer.
  size_t written() const { return written_; }

  void Uint(uint64_t v, size_t bytes) {
    LCFS_DCHECK(bytes >= 1 && bytes <= 8);
    uint8_t b[8];
    for (size_t i = bytes; i-- > 0; v >>= 8) b[i] = static_cast<uint8_t>(v);
    Put(b, bytes);
  }
  void U8(uint8_t v) { Put(&v, 1); }
  void U16(uint16_t v) { Uint(v, 2); }
  void U32(uint32_t v) { Uint(v, 4); }
  void U64(uint64_t v) { Uint(v, 8); }
  void Zeros(size_t n) {
    static constexpr uint8_t kZeros[16] = {};
    for (size_t k; n > 0; n -= k) Put(kZeros, k = std::min(n, sizeof kZeros));
  }
  void Bytes(std::span<const uint8_t> b) { Put(b.data(), b.size()); }
  void String(std::string_view s) { Put(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

 private:
  void Put(const uint8_t* p, size_t n) {
    if (n == 0) return;
    if (vec_ && n <= 8) {
      for (size_t i = 0; i < n; ++i) vec_->push_back(p[i]);  // fields: cheaper than insert
    } else if (vec_) {
      vec_->insert(vec_->end(), p, p + n);  // grows geometrically, no zero fill
    } else {
      LCFS_DCHECK(written_ + n <= fixed_.size());
      std::memcpy(fixed_.data() + written_, p, n);
    }
    written_ += n;
  }

  std::vector<uint8_t>* vec_ = nullptr;
  std::span<uint8_t> fixed_;
  size_t written_ = 0;
};

}  // namespace lcfs
