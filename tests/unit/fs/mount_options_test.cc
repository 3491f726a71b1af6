#include "mount_options.h"

#include <gtest/gtest.h>

namespace lcfs::fs {
namespace {

TEST(ParseCommandLine, AcceptsWhatMountFuse3Passes) {
  // mount.fuse3 runs: lcfs HASH /mnt -o rw,OPTS,dev,suid
  auto cl = ParseCommandLine({"lcfs", "abc", "/mnt", "-o",
                              "rw,iface=veth0,_netdev,noauto,cache_size=1G,timeout=2.5,dev,suid"});
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  EXPECT_EQ(cl->hash, "abc");
  EXPECT_EQ(cl->mountpoint, "/mnt");
  EXPECT_EQ(cl->options.iface, "veth0");
  EXPECT_EQ(cl->options.cache_size, 1ull << 30);
  EXPECT_EQ(cl->options.timeout, std::chrono::milliseconds(2500));
  EXPECT_FALSE(cl->options.hard);
  EXPECT_FALSE(cl->foreground);
  EXPECT_EQ(cl->options.fuse_options, (std::vector<std::string>{"dev", "suid"}));
}

TEST(ParseCommandLine, FlagsAndJoinedOptionForm) {
  auto cl = ParseCommandLine({"lcfs", "-f", "-ohard,port=4711", "h", "m", "-o", "cache=/c"});
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  EXPECT_TRUE(cl->foreground);
  EXPECT_TRUE(cl->options.hard);
  EXPECT_EQ(cl->options.port, 4711);
  EXPECT_EQ(cl->options.cache_dir, "/c");
  auto d = ParseCommandLine({"lcfs", "-d", "h", "m"});
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->debug);
  EXPECT_TRUE(d->foreground);
  auto help = ParseCommandLine({"lcfs", "--help"});
  ASSERT_TRUE(help.ok());
  EXPECT_TRUE(help->help);
  auto version = ParseCommandLine({"lcfs", "--version"});
  ASSERT_TRUE(version.ok());
  EXPECT_TRUE(version->version);
}

TEST(ParseCommandLine, SourcesRepeatableOrCommaList) {
  auto cl = ParseCommandLine(
      {"lcfs", "h", "m", "-o", "source=fe80::1,fe80::2", "-o", "source=fe80::3,ro"});
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  EXPECT_EQ(cl->options.sources, (std::vector<std::string>{"fe80::1", "fe80::2", "fe80::3"}));
  EXPECT_FALSE(ParseCommandLine({"lcfs", "h", "m", "-o", "source=10.0.0.1"}).ok());
  // A bare address is only a continuation of source=.
  EXPECT_FALSE(ParseCommandLine({"lcfs", "h", "m", "-o", "ro,fe80::1"}).ok());
}

TEST(ParseCommandLine, RejectsWithMessages) {
  auto unknown = ParseCommandLine({"lcfs", "h", "m", "-o", "frobnicate"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("frobnicate"), std::string::npos);
  EXPECT_FALSE(ParseCommandLine({"lcfs", "h"}).ok());
  EXPECT_FALSE(ParseCommandLine({"lcfs", "h", "m", "x"}).ok());
  EXPECT_FALSE(ParseCommandLine({"lcfs", "h", "m", "-o"}).ok());
  EXPECT_FALSE(ParseCommandLine({"lcfs", "h", "m", "--bogus"}).ok());
  EXPECT_FALSE(ParseCommandLine({"lcfs", "h", "m", "-o", "timeout=0"}).ok());
  EXPECT_FALSE(ParseCommandLine({"lcfs", "h", "m", "-o", "timeout=abc"}).ok());
  EXPECT_FALSE(ParseCommandLine({"lcfs", "h", "m", "-o", "port=70000"}).ok());
  EXPECT_FALSE(ParseCommandLine({"lcfs", "h", "m", "-o", "cache=relative"}).ok());
  EXPECT_FALSE(ParseCommandLine({"lcfs", "h", "m", "-o", "cache_size=lots"}).ok());
  EXPECT_FALSE(ParseCommandLine({"lcfs", "h", "m", "-o", "iface=a/b"}).ok());
  // A value on a flag option is a mistake, not silently ignored.
  EXPECT_FALSE(ParseCommandLine({"lcfs", "h", "m", "-o", "hard=1"}).ok());
}

TEST(ParseCommandLine, PrefetchModeAndBounds) {
  auto defaults = ParseCommandLine({"lcfs", "abc", "/mnt"});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->options.prefetch, PrefetchMode::kAll);
  EXPECT_EQ(defaults->options.readahead_chunks, 32u);
  EXPECT_EQ(defaults->options.prefetch_files, 64u);
  auto cl = ParseCommandLine(
      {"lcfs", "abc", "/mnt", "-o", "prefetch=none,readahead=0,prefetch_files=500"});
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  EXPECT_EQ(cl->options.prefetch, PrefetchMode::kNone);
  EXPECT_EQ(cl->options.readahead_chunks, 0u);
  EXPECT_EQ(cl->options.prefetch_files, 500u);
  cl = ParseCommandLine({"lcfs", "abc", "/mnt", "-o", "prefetch=meta"});
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(cl->options.prefetch, PrefetchMode::kMeta);
  for (const char* bad :
       {"prefetch=some", "prefetch", "readahead=-1", "prefetch_files=x", "readahead=5000"}) {
    auto r = ParseCommandLine({"lcfs", "abc", "/mnt", "-o", bad});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status().message();
  }
}

TEST(ParseCommandLine, IgnoresGenericFstabOptions) {
  auto cl =
      ParseCommandLine({"lcfs", "h", "m", "-o",
                        "defaults,nofail,user,x-systemd.automount,comment=x,noatime,local=/d"});
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  EXPECT_TRUE(cl->options.fuse_options.empty());
  EXPECT_EQ(cl->options.local_dir, "/d");
}

TEST(ParseCommandLine, PinTakesAHashOnly) {
  const std::string hash(64, 'a');
  auto cl = ParseCommandLine({"lcfs", "lcfs-channel", "/mnt", "-o", "pin=" + hash});
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  EXPECT_EQ(cl->options.pin, hash);
  for (const std::string& bad :
       std::vector<std::string>{"pin=", "pin=abc", "pin=" + std::string(64, 'g'), "pin"}) {
    auto r = ParseCommandLine({"lcfs", "lcfs-channel", "/mnt", "-o", bad});
    EXPECT_FALSE(r.ok()) << bad;
  }
}

}  // namespace
}  // namespace lcfs::fs
