// SigningKey: a channel's Ed25519 private key, as lcfs-keygen writes it.
//
// The key file is the PKCS#8 PEM that `openssl genpkey -algorithm ed25519`
// writes (and `openssl pkey` reads), created with mode 0600 and never
// overwritten. Signing is deterministic (RFC 8032): the same key and message
// always give the same signature.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "lcfs/channel/channel.h"
#include "lcfs/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace lcfs::channel {

class SigningKey {
 public:
  // A fresh random key.
  static Result<SigningKey> Generate();
  // The key with this 32-byte RFC 8032 seed (test vectors).
  static Result<SigningKey> FromSeed(std::span<const uint8_t, 32> seed);
  // Reads a key file. EINVAL if it holds no Ed25519 private key.
  static Result<SigningKey> Load(const std::string& path);

  SigningKey(SigningKey&&) noexcept = default;
  SigningKey& operator=(SigningKey&&) noexcept = default;
  ~SigningKey();

  // Creates `path` (mode 0600, EEXIST if anything is there) holding the key.
  // A failed write leaves no file behind.
  Status WriteNew(const std::string& path) const;

  const ChannelId& channel() const { return channel_; }
  std::array<uint8_t, kSignatureSize> Sign(std::span<const uint8_t> message) const;

 private:
  struct Free {
    void operator()(EVP_PKEY* p) const;
  };
  static Result<SigningKey> Adopt(EVP_PKEY* pkey);
  SigningKey() = default;

  std::unique_ptr<EVP_PKEY, Free> pkey_;
  ChannelId channel_;
};

}  // namespace lcfs::channel
