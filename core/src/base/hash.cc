#include "lcfs/hash.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace lcfs {
namespace {

// Only the canonical spelling is accepted: the HASH is a name, and one name
// should have one spelling (in fstab lines, cache file names, logs).
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

Result<Hash> Hash::FromHex(std::string_view hex) {
  if (hex.size() != 2 * kSize) {
    return Status::Error(
        EINVAL, "hash must be 64 hex digits, got " + std::to_string(hex.size()) + " characters");
  }
  Hash h;
  for (size_t i = 0; i < kSize; ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      size_t pos = hi < 0 ? 2 * i : 2 * i + 1;
      char c = hex[pos];
      bool upper = c >= 'A' && c <= 'F';
      return Status::Error(EINVAL, std::string("hash has ") +
                                       (upper ? "an uppercase" : "a non-hex") +
                                       " character at position " + std::to_string(pos + 1) +
                                       (upper ? " (use lowercase hex)" : ""));
    }
    h.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return h;
}

std::string Hash::ToHex() const { return lcfs::ToHex(bytes); }

bool Hash::IsZero() const {
  for (uint8_t b : bytes)
    if (b) return false;
  return true;
}

std::string ToHex(std::span<const uint8_t> data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(data.size() * 2, '\0');
  for (size_t i = 0; i < data.size(); ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { EVP_MD_CTX_free(md); }
};

namespace {
// Fetched once: EVP_MD_fetch per hash would cost a provider lookup each time.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = EVP_sha256();
  return md;
}
}  // namespace

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  if (!ctx_->md || EVP_DigestInit_ex(ctx_->md, Sha256Md(), nullptr) != 1) std::abort();
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

Sha256& Sha256::Update(std::span<const uint8_t> data) {
  if (!data.empty() && EVP_DigestUpdate(ctx_->md, data.data(), data.size()) != 1) std::abort();
  return *this;
}

Hash Sha256::Finish() {
  Hash h;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->md, h.bytes.data(), &len) != 1 || len != Hash::kSize) std::abort();
  if (EVP_DigestInit_ex(ctx_->md, Sha256Md(), nullptr) != 1) std::abort();
  return h;
}

Hash Sha256Of(std::span<const uint8_t> data) {
  Hash h;
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), h.bytes.data(), &len, Sha256Md(), nullptr) != 1)
    std::abort();
  return h;
}

}  // namespace lcfs
