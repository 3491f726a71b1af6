#include "lcfs/fec/oti.h"

#include <cstdio>

#include "fec/code_params.h"

namespace lcfs::fec {
namespace {

uint64_t CeilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

}  // namespace

uint32_t ExtendedBlockSize(uint32_t k) {
  const CodeParams* p = ParamsFor(k);
  return p ? p->k_prime : 0;
}

Result<Oti> Oti::ForObject(uint64_t size, uint16_t symbol_size, uint8_t alignment,
                           size_t working_set) {
  if (size == 0 || size > kMaxTransferLength) {
    return Status::Error(EINVAL, "fec params: object size " + std::to_string(size) +
                                     " outside 1.." + std::to_string(kMaxTransferLength));
  }
  if (alignment == 0 || symbol_size == 0 || symbol_size % alignment != 0) {
    return Status::Error(EINVAL, "fec params: symbol size " + std::to_string(symbol_size) +
                                     " is not a positive multiple of alignment " +
                                     std::to_string(alignment));
  }
  // Section 4.3.
  const uint64_t kt = CeilDiv(size, symbol_size);
  const uint32_t n_max = std::max<uint32_t>(1, symbol_size / (kDefaultSubSymbolFactor * alignment));
  auto kl = [&](uint32_t n) {
    uint64_t per_symbol = uint64_t{alignment} * CeilDiv(symbol_size, uint64_t{alignment} * n);
    return LargestKPrimeAtMost(working_set / per_symbol);
  };
  const uint32_t kl_max = kl(n_max);
  if (kl_max == 0) {
    return Status::Error(EINVAL, "fec params: working set " + std::to_string(working_set) +
                                     " too small for symbol size " + std::to_string(symbol_size));
  }
  const uint64_t z = CeilDiv(kt, kl_max);
  if (z > 255) {
    return Status::Error(EFBIG, "fec params: object of " + std::to_string(size) + " bytes needs " +
                                    std::to_string(z) + " source blocks (max 255) at symbol size " +
                                    std::to_string(symbol_size));
  }
  uint32_t n = 1;
  while (n < n_max && CeilDiv(kt, z) > kl(n)) ++n;
  Oti oti{size, symbol_size, static_cast<uint8_t>(z), static_cast<uint16_t>(n), alignment};
  LCFS_RETURN_IF_ERROR(oti.Validate());
  return oti;
}

Result<Oti> OtiForObject(uint64_t size) {
  if (size == 0) return Status::Error(EINVAL, "empty object: nothing to send");
  uint16_t t = kObjectSymbolSize;
  if (size < t) {
    t = static_cast<uint16_t>(CeilDiv(size, kObjectAlignment) * kObjectAlignment);
  }
  return Oti::ForObject(size, t, kObjectAlignment);
}

Status Oti::Validate() const {
  auto bad = [](const std::string& what) { return Status::Error(EINVAL, "fec oti: " + what); };
  if (transfer_length == 0) return bad("transfer length is 0");
  if (transfer_length > kMaxTransferLength) return bad("transfer length too large");
  if (alignment == 0) return bad("alignment is 0");
  if (symbol_size == 0 || symbol_size % alignment != 0) {
    return bad("symbol size " + std::to_string(symbol_size) + " not a multiple of alignment " +
               std::to_string(alignment));
  }
  if (source_blocks == 0) return bad("zero source blocks");
  if (sub_blocks == 0) return bad("zero sub-blocks");
  if (sub_blocks > symbol_size / alignment) {
    return bad("sub-blocks " + std::to_string(sub_blocks) + " leave sub-symbols under " +
               std::to_string(alignment) + " bytes");
  }
  const uint64_t kt = (transfer_length + symbol_size - 1) / symbol_size;
  if (kt < source_blocks) return bad("more source blocks than symbols");
  if ((kt + source_blocks - 1) / source_blocks > kMaxSourceSymbols) {
    return bad("source blocks of more than " + std::to_string(kMaxSourceSymbols) + " symbols");
  }
  return Status::Ok();
}

std::array<uint8_t, Oti::kEncodedSize> Oti::Encode() const {
  std::array<uint8_t, kEncodedSize> b{};
  for (int i = 0; i < 5; ++i) b[i] = static_cast<uint8_t>(transfer_length >> (8 * (4 - i)));
  b[5] = 0;
  b[6] = static_cast<uint8_t>(symbol_size >> 8);
  b[7] = static_cast<uint8_t>(symbol_size);
  b[8] = source_blocks;
  b[9] = static_cast<uint8_t>(sub_blocks >> 8);
  b[10] = static_cast<uint8_t>(sub_blocks);
  b[11] = alignment;
  return b;
}

Result<Oti> Oti::Decode(std::span<const uint8_t> b) {
  if (b.size() != kEncodedSize) {
    return Status::Error(EINVAL, "fec oti: " + std::to_string(b.size()) + " bytes, want 12");
  }
  if (b[5] != 0) return Status::Error(EINVAL, "fec oti: reserved byte is not zero");
  Oti oti;
  for (int i = 0; i < 5; ++i) oti.transfer_length = (oti.transfer_length << 8) | b[i];
  oti.symbol_size = static_cast<uint16_t>(b[6] << 8 | b[7]);
  oti.source_blocks = b[8];
  oti.sub_blocks = static_cast<uint16_t>(b[9] << 8 | b[10]);
  oti.alignment = b[11];
  LCFS_RETURN_IF_ERROR(oti.Validate());
  return oti;
}

std::string Oti::ToHex() const {
  std::string s;
  char buf[3];
  for (uint8_t v : Encode()) {
    std::snprintf(buf, sizeof buf, "%02x", v);
    s += buf;
  }
  return s;
}

Result<Oti> Oti::FromHex(std::string_view hex) {
  if (hex.size() != 2 * kEncodedSize) {
    return Status::Error(EINVAL, "fec oti: want 24 hex digits, got " + std::to_string(hex.size()));
  }
  std::array<uint8_t, kEncodedSize> b{};
  for (size_t i = 0; i < hex.size(); ++i) {
    char c = hex[i];
    int v = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : -1;
    if (v < 0)
      return Status::Error(EINVAL, "fec oti: not a hex digit in \"" + std::string(hex) + "\"");
    b[i / 2] = static_cast<uint8_t>(b[i / 2] << 4 | v);
  }
  return Decode(b);
}

}  // namespace lcfs::fec
