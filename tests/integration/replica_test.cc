// Replicas (docs/protocol.md section 14) on the virtual LAN: the share
// engine's standby, and lcfs-export replicas of one tree that take over from
// each other when one is killed mid-read, with one of them sending.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>

#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/random_bytes.h"
#include "common/testbed_fixture.h"
#include "common/tool_run.h"
#include "common/wait.h"
#include "lcfs/index/indexer.h"
#include "lcfs/net/group.h"
#include "lcfs/net/multicast_socket.h"
#include "lcfs/net/packet.h"
#include "lcfs/share/share.h"
#include "testbed/testbed.h"

namespace lcfs {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::WaitUntil;

const std::string kExport = testing::ToolPath("lcfs-export"),
                  kSync = testing::ToolPath("lcfs-sync");

// Counts the packets of one object that reach a host.
class PacketCounter {
 public:
  PacketCounter(const testbed::Host& host, const Hash& object, ObjectKind kind)
      : object_(object), kind_(kind) {
    auto guard = host.Enter();
    EXPECT_TRUE(guard.ok()) << guard.status().ToString();
    net::MulticastSocketOptions o;
    o.port = net::kDefaultPort;
    auto s = net::MulticastSocket::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return;
    socket_.emplace(std::move(*s));
    EXPECT_TRUE(socket_->Join(net::GroupAddress(object), host.ifindex()).ok());
  }
  // Reads what has arrived within `wait`; returns the packets of the object.
  uint64_t Drain(std::chrono::milliseconds wait) {
    const auto deadline = Clock::now() + wait;
    std::vector<std::array<uint8_t, 2048>> bufs(32);
    std::vector<net::IncomingDatagram> in(bufs.size());
    while (Clock::now() < deadline) {
      pollfd p{socket_->fd(), POLLIN, 0};
      if (poll(&p, 1, 10) <= 0) continue;
      for (size_t i = 0; i < bufs.size(); ++i) in[i].buffer = bufs[i];
      auto n = socket_->Receive(in);
      if (!n.ok()) break;
      for (size_t i = 0; i < *n; ++i) {
        net::PacketView v;
        if (net::ParsePacketFor(std::span(in[i].buffer.data(), in[i].length), object_, kind_, &v,
                                &counters_) == net::PacketDrop::kNone)
          ++packets_;
      }
    }
    return packets_;
  }

 private:
  Hash object_;
  ObjectKind kind_;
  std::optional<net::MulticastSocket> socket_;
  net::PacketCounters counters_;
  uint64_t packets_ = 0;
};

class ShareStandbyTest : public testing::ProgramsTestbedTest {
 protected:
  void SetUp() override {
    StartTestbed({}, 2, "replica-standby");
    if (IsSkipped() || HasFatalFailure()) return;
    stdfs::create_directories(base_ + "/src");
    testing::WriteRandomFile(base_ + "/src/big", 3u << 20, 1);
    auto index = index::IndexPath(base_ + "/src", {});
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    index_ = std::move(*index);
  }
  index::IndexResult index_;
  share::ShareStats stats_;
};

TEST_F(ShareStandbyTest, StandbyTracksListenersButSendsNothingUntilItIsLeft) {
  share::ShareOptions o;
  o.standby = true;
  o.mld_timers = net::MldTimers::Fast(1000ms);
  Result<share::ShareHandle> engine = Status::Error(EINVAL, "not started");
  {
    auto guard = bed_->host(0).Enter();
    ASSERT_TRUE(guard.ok());
    engine = share::Share(index_, bed_->host(0).ifindex(), &stats_, 0, o);
  }
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  PacketCounter rx(bed_->host(1), index_.root, ObjectKind::kDirectory);
  ASSERT_TRUE(WaitUntil([&] { return stats_.active_groups.load() == 1; }, 10s))
      << "the standby engine did not see the join";
  // A window in which an active engine sends the directory many times over.
  EXPECT_EQ(rx.Drain(500ms), 0u);
  EXPECT_EQ(stats_.symbols_sent.load(), 0u);

  (*engine)->SetStandby(false);
  ASSERT_TRUE(WaitUntil([&] { return rx.Drain(50ms) > 0; }, 10s))
      << "leaving standby did not send the group that has a listener";
  EXPECT_GT(stats_.symbols_sent.load(), 0u);

  // Back in standby it stops again (the stream may finish its turn first).
  (*engine)->SetStandby(true);
  rx.Drain(200ms);
  const uint64_t sent = stats_.symbols_sent.load();
  rx.Drain(300ms);
  EXPECT_EQ(stats_.symbols_sent.load(), sent);
  share::Unshare(std::move(*engine));
}

}  // namespace
}  // namespace lcfs
