// lcfs-fec: exercise the RaptorQ (RFC 6330) codec from outside.
//
//   lcfs-fec params --size F --symbol-size T [--align AL] [--working-set WS]
//   lcfs-fec encode --oti HEX --repair R IN OUT
//   lcfs-fec decode --oti HEX IN OUT
//
// Symbols travel as records: a 32-bit big-endian length, then that many
// bytes: the 4-byte FEC Payload ID (SBN, ESI) and the symbol.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "cli.h"
#include "lcfs/fec/decoder.h"
#include "lcfs/fec/encoder.h"
#include "lcfs/fec/oti.h"
#include "lcfs/fec/payload_id.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitNeedMore = 1;
constexpr int kExitBad = 2;

constexpr char kUsage[] =
    "Usage: lcfs-fec params --size F --symbol-size T [--align AL] [--working-set WS]\n"
    "       lcfs-fec encode --oti HEX --repair R IN OUT\n"
    "       lcfs-fec decode --oti HEX IN OUT\n"
    "RaptorQ (RFC 6330) from the command line.\n"
    "\n"
    "params  print the OTI our defaults choose, as 24 hex digits (the 12 bytes of\n"
    "        RFC 6330 sections 3.3.2 and 3.3.3). AL defaults to 4, WS to 8 MiB.\n"
    "encode  for each source block in order, write its source symbols (ESI 0..K-1)\n"
    "        then R repair symbols (ESI K..K+R-1) as records.\n"
    "decode  read records in any order (duplicates and unknown records ignored)\n"
    "        and write the object.\n"
    "\n"
    "A record is a 32-bit big-endian length followed by that many bytes: the\n"
    "FEC Payload ID (SBN, 8 bits; ESI, 24 bits big-endian) and the symbol.\n"
    "IN and OUT may be '-' for standard input and output.\n"
    "\n"
    "Exit status: 0 success, 1 (decode) the symbols do not suffice,\n"
    "2 bad arguments or input.\n";

int Bad(const std::string& msg) {
  std::fprintf(stderr, "lcfs-fec: %s\n", msg.c_str());
  return kExitBad;
}

FILE* OpenIn(const std::string& path) {
  return path == "-" ? stdin : std::fopen(path.c_str(), "rb");
}
FILE* OpenOut(const std::string& path) {
  return path == "-" ? stdout : std::fopen(path.c_str(), "wb");
}

bool ReadAll(FILE* f, std::vector<uint8_t>* out) {
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out->insert(out->end(), buf, buf + n);
  return !std::ferror(f);
}

struct Options {
  std::string oti_hex;
  uint64_t size = 0, symbol_size = 0, align = 4, working_set = lcfs::fec::kDefaultWorkingSet,
           repair = 0;
  bool have_size = false, have_symbol_size = false, have_repair = false;
  std::vector<std::string> positional;
};

// Options follow the command (argv[1]). Returns the exit code if the tool
// should stop (--help, a bad option), or nullopt.
std::optional<int> ParseOptions(int argc, char** argv, Options* o) {
  lcfs::cli::Parser cli("lcfs-fec", kUsage);
  auto number = [](uint64_t max, const char* what, uint64_t* out, bool* given = nullptr) {
    return [=](const char* v) -> lcfs::Status {
      auto n = lcfs::cli::ParseUnsigned(v, 0, max, what);
      if (!n.ok()) return n.status();
      *out = *n;
      if (given) *given = true;
      return lcfs::Status::Ok();
    };
  };
  cli.Value(0, "size", number(lcfs::fec::kMaxTransferLength, "--size", &o->size, &o->have_size));
  cli.Value(0, "symbol-size",
            number(65535, "--symbol-size", &o->symbol_size, &o->have_symbol_size));
  cli.Value(0, "align", number(255, "--align", &o->align));
  cli.Value(0, "working-set", number(uint64_t{1} << 40, "--working-set", &o->working_set));
  cli.Value(0, "repair", number(lcfs::fec::kMaxEsi + 1, "--repair", &o->repair, &o->have_repair));
  cli.Value(0, "oti", [o](const char* v) {
    o->oti_hex = v;
    return lcfs::Status::Ok();
  });
  if (auto exit = cli.Parse(argc, argv, 2)) return exit;
  o->positional = cli.positional();
  return std::nullopt;
}

int Params(const Options& o) {
  if (!o.have_size || !o.have_symbol_size) return Bad("params needs --size and --symbol-size");
  if (!o.positional.empty()) return Bad("params takes no file arguments");
  auto oti = lcfs::fec::Oti::ForObject(o.size, static_cast<uint16_t>(o.symbol_size),
                                       static_cast<uint8_t>(o.align), o.working_set);
  if (!oti.ok()) return Bad(oti.status().message());
  std::printf("%s\n", oti->ToHex().c_str());
  return kExitOk;
}

int Encode(const Options& o, const lcfs::fec::Oti& oti) {
  if (!o.have_repair) return Bad("encode needs --repair");
  if (o.positional.size() != 2) return Bad("encode needs IN and OUT");
  FILE* in = OpenIn(o.positional[0]);
  if (!in) return Bad(o.positional[0] + ": " + std::strerror(errno));
  std::vector<uint8_t> object;
  bool read_ok = ReadAll(in, &object);
  if (in != stdin) std::fclose(in);
  if (!read_ok) return Bad(o.positional[0] + ": read error");
  auto enc = lcfs::fec::ObjectEncoder::CreateOwned(oti, std::move(object));
  if (!enc.ok()) return Bad(enc.status().message());
  FILE* out = OpenOut(o.positional[1]);
  if (!out) return Bad(o.positional[1] + ": " + std::strerror(errno));
  std::vector<uint8_t> record(4 + 4 + oti.symbol_size);
  const uint32_t length = 4 + oti.symbol_size;
  record[0] = static_cast<uint8_t>(length >> 24);
  record[1] = static_cast<uint8_t>(length >> 16);
  record[2] = static_cast<uint8_t>(length >> 8);
  record[3] = static_cast<uint8_t>(length);
  for (uint32_t sbn = 0; sbn < enc->block_count(); ++sbn) {
    uint32_t k = enc->SourceSymbols(static_cast<uint8_t>(sbn));
    uint64_t end = uint64_t{k} + o.repair;
    if (end > uint64_t{lcfs::fec::kMaxEsi} + 1)
      return Bad("too many repair symbols for 24-bit ESIs");
    for (uint32_t esi = 0; esi < end; ++esi) {
      auto id = lcfs::fec::PayloadId{static_cast<uint8_t>(sbn), esi}.Encode();
      std::memcpy(&record[4], id.data(), id.size());
      auto st = enc->Symbol(static_cast<uint8_t>(sbn), esi, {&record[8], oti.symbol_size});
      if (!st.ok()) return Bad(st.message());
      if (std::fwrite(record.data(), 1, record.size(), out) != record.size()) {
        return Bad(o.positional[1] + ": write error");
      }
    }
  }
  if (std::fflush(out) != 0 || (out != stdout && std::fclose(out) != 0)) {
    return Bad(o.positional[1] + ": write error");
  }
  return kExitOk;
}

int Decode(const Options& o, const lcfs::fec::Oti& oti) {
  if (o.positional.size() != 2) return Bad("decode needs IN and OUT");
  auto dec = lcfs::fec::ObjectDecoder::Create(oti);
  if (!dec.ok()) return Bad(dec.status().message());
  FILE* in = OpenIn(o.positional[0]);
  if (!in) return Bad(o.positional[0] + ": " + std::strerror(errno));
  std::vector<uint8_t> body;
  int rc = kExitOk;
  for (;;) {
    uint8_t len_bytes[4];
    size_t got = std::fread(len_bytes, 1, 4, in);
    if (got == 0 && std::feof(in)) break;
    if (got != 4) {
      rc = Bad(o.positional[0] + ": truncated record length");
      break;
    }
    uint32_t len = uint32_t{len_bytes[0]} << 24 | uint32_t{len_bytes[1]} << 16 |
                   uint32_t{len_bytes[2]} << 8 | len_bytes[3];
    // Read in bounded pieces so a bogus length cannot make us allocate much.
    bool wanted = len == 4u + oti.symbol_size;
    body.resize(wanted ? len : 0);
    uint64_t left = len;
    if (wanted) {
      if (std::fread(body.data(), 1, len, in) != len) {
        rc = Bad(o.positional[0] + ": truncated record");
        break;
      }
      left = 0;
    }
    uint8_t skip[4096];
    while (left > 0) {
      size_t n = std::fread(skip, 1, std::min<uint64_t>(left, sizeof skip), in);
      if (n == 0) break;
      left -= n;
    }
    if (left > 0) {
      rc = Bad(o.positional[0] + ": truncated record");
      break;
    }
    if (!wanted) continue;  // unknown record
    auto id = lcfs::fec::PayloadId::Decode(body);
    if (!id.ok() || id->sbn >= oti.source_blocks) continue;
    auto progress = dec->Add(id->sbn, id->esi, {body.data() + 4, oti.symbol_size});
    if (progress.ok() && *progress == lcfs::fec::DecodeProgress::kComplete) break;
  }
  if (in != stdin) std::fclose(in);
  if (rc != kExitOk) return rc;
  if (!dec->complete()) {
    std::fprintf(stderr, "lcfs-fec: not enough symbols to decode\n");
    return kExitNeedMore;
  }
  FILE* out = OpenOut(o.positional[1]);
  if (!out) return Bad(o.positional[1] + ": " + std::strerror(errno));
  auto object = dec->object();
  if (std::fwrite(object.data(), 1, object.size(), out) != object.size() || std::fflush(out) != 0 ||
      (out != stdout && std::fclose(out) != 0)) {
    return Bad(o.positional[1] + ": write error");
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitBad;
  }
  std::string command = argv[1];
  if (command == "-h" || command == "--help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (command == "--version") {
    std::printf("lcfs-fec %s\n", LCFS_VERSION);
    return kExitOk;
  }
  if (command != "params" && command != "encode" && command != "decode")
    return lcfs::cli::Parser("lcfs-fec", kUsage).UsageError("unknown command '" + command + "'");
  Options o;
  if (auto exit = ParseOptions(argc, argv, &o)) return *exit;
  if (command == "params") return Params(o);
  if (o.oti_hex.empty()) return Bad(command + " needs --oti");
  auto oti = lcfs::fec::Oti::FromHex(o.oti_hex);
  if (!oti.ok()) return Bad(oti.status().message());
  return command == "encode" ? Encode(o, *oti) : Decode(o, *oti);
}
