// lcfs-keygen KEYFILE: create a channel key; print its CHANNEL name.
// lcfs-keygen --channel KEYFILE: print the CHANNEL name of an existing key.
// See docs/lcfs-keygen.1.
#include <cstdio>
#include <string>

#include "cli.h"
#include "lcfs/channel/signing_key.h"

namespace {

using namespace lcfs;

using cli::kExitOk;
constexpr int kExitError = 1;

constexpr const char* kUsage =
    "usage: lcfs-keygen KEYFILE\n"
    "       lcfs-keygen --channel KEYFILE\n"
    "\n"
    "Creates KEYFILE holding a new Ed25519 private key (PKCS#8 PEM, mode 0600;\n"
    "an existing file is never overwritten) and prints the CHANNEL it names:\n"
    "readers follow `lcfs-export --sign KEYFILE DIR` with `lcfs-sync CHANNEL DEST`.\n"
    "\n"
    "options:\n"
    "  -c, --channel   print the CHANNEL of the existing KEYFILE instead\n"
    "  -h, --help      this help\n"
    "  -V, --version   print the version\n"
    "\n"
    "exit status: 0 done, 1 error (message on stderr), 2 usage error\n";

int Fail(const Status& s) {
  fprintf(stderr, "lcfs-keygen: %s\n", s.ToString().c_str());
  return kExitError;
}

}  // namespace

int main(int argc, char** argv) {
  bool print_channel = false;
  cli::Parser parser("lcfs-keygen", kUsage);
  parser.Flag('c', "channel", &print_channel);
  if (auto exit = parser.Parse(argc, argv)) return *exit;
  if (parser.positional().size() != 1) return parser.UsageError("expected KEYFILE");
  const std::string path = parser.positional()[0];

  if (print_channel) {
    auto key = channel::SigningKey::Load(path);
    if (!key.ok()) return Fail(key.status());
    printf("%s\n", key->channel().ToString().c_str());
    return kExitOk;
  }
  auto key = channel::SigningKey::Generate();
  if (!key.ok()) return Fail(key.status());
  Status written = key->WriteNew(path);
  if (!written.ok()) {
    if (written.code() == EEXIST)
      return Fail(Status::Error(EEXIST, path + " exists; lcfs-keygen never overwrites a key"));
    return Fail(written);
  }
  printf("%s\n", key->channel().ToString().c_str());
  return fflush(stdout) == 0 ? kExitOk : kExitError;
}
