// A receiver of lcfs datagrams on one testbed host, for the tests that watch
// what an exporter sends: a socket on the lcfs port opened inside the host,
// groups joined and left on the host's interface, and the one receive loop
// (poll, a batch of datagrams, a deadline) those tests share.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "lcfs/hash.h"
#include "lcfs/net/group.h"
#include "lcfs/net/multicast_socket.h"
#include "lcfs/net/packet.h"
#include "lcfs/status.h"
#include "testbed/testbed.h"

namespace lcfs::testing {

class GroupReceiver {
 public:
  using Clock = std::chrono::steady_clock;

  // Opens the socket in `host`'s network namespace (a test failure if it
  // cannot). `host` must outlive the receiver.
  explicit GroupReceiver(const testbed::Host& host) : host_(host) {
    auto guard = host.Enter();
    EXPECT_TRUE(guard.ok()) << guard.status().ToString();
    net::MulticastSocketOptions o;
    o.port = net::kDefaultPort;
    auto s = net::MulticastSocket::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (s.ok()) socket_.emplace(std::move(*s));
  }

  Status Join(const Hash& h) { return socket_->Join(net::GroupAddress(h), host_.ifindex()); }
  Status Leave(const Hash& h) { return socket_->Leave(net::GroupAddress(h), host_.ifindex()); }

  // Calls fn(datagram) for every datagram that arrives until fn returns true
  // (then true) or `deadline` passes (then false). `deadline` is read again
  // after each datagram, so fn may push it back. A socket error ends the
  // loop (false).
  bool ReceiveUntil(const Clock::time_point& deadline,
                    const std::function<bool(std::span<const uint8_t>)>& fn) {
    std::vector<std::array<uint8_t, 2048>> bufs(64);
    std::vector<net::IncomingDatagram> in(bufs.size());
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{socket_->fd(), POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 50))) <= 0) continue;
      for (size_t i = 0; i < bufs.size(); ++i) in[i].buffer = bufs[i];
      auto n = socket_->Receive(in);
      if (!n.ok()) return false;
      for (size_t i = 0; i < *n; ++i)
        if (fn(std::span<const uint8_t>(in[i].buffer.data(), in[i].length))) return true;
    }
  }

  // ReceiveUntil for the valid packets of object `hash` of `kind` only;
  // the other datagrams count in counters().
  bool ReceivePackets(const Hash& hash, ObjectKind kind, const Clock::time_point& deadline,
                      const std::function<bool(const net::PacketView&)>& fn) {
    return ReceiveUntil(deadline, [&](std::span<const uint8_t> datagram) {
      net::PacketView v;
      return net::ParsePacketFor(datagram, hash, kind, &v, &counters_) == net::PacketDrop::kNone &&
             fn(v);
    });
  }

  // Discards the datagrams already queued, so what is received next was
  // sent after this.
  void Drain() {
    std::vector<std::array<uint8_t, 2048>> bufs(64);
    std::vector<net::IncomingDatagram> in(bufs.size());
    for (;;) {
      for (size_t i = 0; i < bufs.size(); ++i) in[i].buffer = bufs[i];
      auto n = socket_->Receive(in);
      if (!n.ok() || *n == 0) return;
    }
  }

  const net::PacketCounters& counters() const { return counters_; }

 private:
  const testbed::Host& host_;
  std::optional<net::MulticastSocket> socket_;
  net::PacketCounters counters_;
};

}  // namespace lcfs::testing
