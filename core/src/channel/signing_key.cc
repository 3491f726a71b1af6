#include "lcfs/channel/signing_key.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "lcfs/full_io.h"
#include "lcfs/unique_fd.h"

namespace lcfs::channel {

void SigningKey::Free::operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }

SigningKey::~SigningKey() = default;

Result<SigningKey> SigningKey::Adopt(EVP_PKEY* pkey) {
  SigningKey k;
  k.pkey_.reset(pkey);
  if (!pkey) return Status::Error(EINVAL, "no key");
  if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) return Status::Error(EINVAL, "not an Ed25519 key");
  size_t len = k.channel_.key.size();
  if (EVP_PKEY_get_raw_public_key(pkey, k.channel_.key.data(), &len) != 1 ||
      len != k.channel_.key.size())
    return Status::Error(EINVAL, "cannot derive the Ed25519 public key");
  return k;
}

Result<SigningKey> SigningKey::Generate() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!pkey) return Status::Error(EIO, "Ed25519 key generation failed");
  return Adopt(pkey);
}

Result<SigningKey> SigningKey::FromSeed(std::span<const uint8_t, 32> seed) {
  EVP_PKEY* pkey =
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size());
  if (!pkey) return Status::Error(EINVAL, "bad Ed25519 seed");
  return Adopt(pkey);
}

Result<SigningKey> SigningKey::Load(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, path);
  // A PEM Ed25519 key is 119 bytes; anything near the buffer's size is not one.
  std::vector<uint8_t> text(16 * 1024);
  auto n = ReadFull(fd.get(), text);
  if (!n.ok()) return n.status().WithContext(path);
  if (*n == text.size()) return Status::Error(EINVAL, path + ": too large for a key file");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(text.data(), static_cast<int>(*n)),
                                                &BIO_free);
  EVP_PKEY* pkey = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  OPENSSL_cleanse(text.data(), text.size());
  if (!pkey) return Status::Error(EINVAL, path + ": no PEM private key in it");
  auto key = Adopt(pkey);
  if (!key.ok()) return key.status().WithContext(path);
  return key;
}

Status SigningKey::WriteNew(const std::string& path) const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return Status::Error(EIO, "cannot encode the key");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  // O_EXCL: never overwrite a key (it would orphan its channel); 0600 from
  // the start, so the key is never readable by others, even for a moment.
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return Status::FromErrno(errno, path);
  Status s = WriteFull(fd.get(),
                       std::span(reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(size)))
                 .WithContext(path);
  if (s.ok() && fsync(fd.get()) != 0) s = Status::FromErrno(errno, path + ": fsync");
  if (!s.ok()) unlink(path.c_str());
  return s;
}

std::array<uint8_t, kSignatureSize> SigningKey::Sign(std::span<const uint8_t> message) const {
  std::array<uint8_t, kSignatureSize> sig{};
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  size_t len = sig.size();
  // Ed25519 signing only fails on allocation failure or a broken key, both
  // of which Adopt() ruled out; an all-zero signature would never verify.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1)
    sig.fill(0);
  return sig;
}

}  // namespace lcfs::channel
