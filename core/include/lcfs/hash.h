// Hash: a SHA-256 value, the name of every object in lcfs.
//
// Objects (chunks, Merkle nodes, directories) are immutable and named by the
// SHA-256 of their encoding, so a receiver can verify anything it gets.
// Sha256 wraps OpenSSL's EVP API, which uses SHA-NI where the CPU has it.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "lcfs/status.h"

namespace lcfs {

struct Hash {
  static constexpr size_t kSize = 32;
  std::array<uint8_t, kSize> bytes{};

  // Parses exactly 64 lowercase hex digits. The error says what is wrong:
  // wrong length, or the position of the first character that is not one.
  static Result<Hash> FromHex(std::string_view hex);
  // 64 lowercase hex digits.
  std::string ToHex() const;

  static Hash FromBytes(std::span<const uint8_t, kSize> b) {
    Hash h;
    std::memcpy(h.bytes.data(), b.data(), kSize);
    return h;
  }
  bool IsZero() const;

  auto operator<=>(const Hash&) const = default;
  bool operator==(const Hash&) const = default;
};

// Incremental SHA-256. Reusable: Finish() resets it for the next message.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Sha256& Update(std::span<const uint8_t> data);
  Sha256& Update(std::string_view data) {
    return Update(std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  }
  Hash Finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// One-shot SHA-256.
Hash Sha256Of(std::span<const uint8_t> data);
inline Hash Sha256Of(std::string_view data) {
  return Sha256Of(std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

// Lowercase hex of arbitrary bytes.
std::string ToHex(std::span<const uint8_t> data);

}  // namespace lcfs

template <>
struct std::hash<lcfs::Hash> {
  size_t operator()(const lcfs::Hash& h) const noexcept {
    // The bytes are already uniformly distributed: any 8 of them will do.
    size_t v;
    std::memcpy(&v, h.bytes.data(), sizeof v);
    return v;
  }
};
