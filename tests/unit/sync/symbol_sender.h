// Test helpers for network sync tests: the objects of a local export, and a
// minimal sender that sends them RaptorQ-coded on their groups from a testbed
// host, round-robin, without end, until stopped (optionally garbage in place
// of symbols, to play a hostile host). It ignores MLD: it stands in for the
// exporter where the test is about the receiver.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lcfs/fec/encoder.h"
#include "lcfs/fec/oti.h"
#include "lcfs/fec/payload_id.h"
#include "lcfs/index/directory.h"
#include "lcfs/index/file_tree.h"
#include "lcfs/index/mdex.h"
#include "lcfs/net/group.h"
#include "lcfs/net/multicast_socket.h"
#include "lcfs/net/packet.h"
#include "testbed/testbed.h"

namespace lcfs::sync::testing {

struct Object {
  Hash hash;
  ObjectKind kind;
  std::vector<uint8_t> bytes;
};

// Every object of the export of `dir` (indexed with `mdex`, root `root`):
// directories from the mdex, files' chunks and tree nodes from the files.
inline Status CollectObjects(const index::Mdex& mdex, const Hash& dir_hash, const std::string& dir,
                             std::vector<Object>* out) {
  auto bytes = mdex.Read(dir_hash);
  if (!bytes.ok()) return bytes.status();
  auto d = index::DecodeDirectory(*bytes);
  if (!d.ok()) return d.status();
  out->push_back({dir_hash, ObjectKind::kDirectory, std::move(bytes).value()});
  for (const auto& e : d->entries) {
    const std::string path = dir + "/" + e.name;
    if (e.type == index::EntryType::kDirectory) {
      LCFS_RETURN_IF_ERROR(CollectObjects(mdex, e.hash, path, out));
    } else if (e.type == index::EntryType::kFile && !e.is_inline) {
      std::ifstream in(path, std::ios::binary);
      std::ostringstream s;
      s << in.rdbuf();
      const std::string data = s.str();
      std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(data.data()), data.size());
      auto tree = index::FileTree::FromData(span, d->chunk_size);
      if (!tree.ok()) return tree.status();
      tree->ForEachNode([&](const Hash& h, std::vector<uint8_t> b) {
        out->push_back({h, ObjectKind::kTreeNode, std::move(b)});
      });
      for (uint64_t i = 0; i < tree->leaves().size(); ++i) {
        auto chunk =
            span.subspan(i * d->chunk_size, index::ChunkLength(data.size(), d->chunk_size, i));
        out->push_back({tree->leaves()[i], ObjectKind::kChunk, {chunk.begin(), chunk.end()}});
      }
    }
  }
  return Status::Ok();
}

// What a test's sending or listening thread does first: enters `host`'s
// network namespace for good (*guard keeps it entered) and opens a
// multicast socket there with `options`.
inline Result<net::MulticastSocket> SocketInHost(const testbed::Host& host,
                                                 const net::MulticastSocketOptions& options,
                                                 std::optional<testbed::NetnsGuard>* guard) {
  auto entered = host.Enter();
  if (!entered.ok()) return entered.status();
  guard->emplace(std::move(*entered));
  return net::MulticastSocket::Open(options);
}

class SymbolSender {
 public:
  struct Options {
    bool garbage = false;  // random bytes instead of symbols
    // > 0: garbage under this many bogus OTIs per object, in turn (each
    // claiming a length the object does not have, up to 16 MiB), the way a
    // host would fill a receiver's decoders.
    uint32_t bogus_otis = 0;
    uint64_t packets_per_second = 20000;
    uint32_t burst = 8;  // symbols per object per round
  };

  SymbolSender(const testbed::Host& host, std::vector<Object> objects, Options options)
      : host_(host),
        objects_(std::move(objects)),
        options_(options),
        thread_([this](std::stop_token stop) { Run(stop); }) {}

  // Stops sending (destruction does too).
  void Stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }
  uint64_t packets_sent() const { return sent_.load(); }
  const Status& error() const { return error_; }

 private:
  struct Stream {
    fec::ObjectEncoder encoder;
    net::PacketHeader header;
    net::Ipv6Address group;
    uint32_t esi = 0;
  };

  void Run(std::stop_token stop) {
    net::MulticastSocketOptions so;
    so.send_ifindex = host_.ifindex();
    std::optional<testbed::NetnsGuard> guard;
    auto socket = SocketInHost(host_, so, &guard);
    if (!socket.ok()) {
      error_ = socket.status();
      return;
    }
    socket->set_destination_port(net::kDefaultPort);
    std::vector<Stream> streams;
    for (const auto& o : objects_) {
      const uint64_t f = o.bytes.size();
      const uint16_t t =
          static_cast<uint16_t>(std::min<uint64_t>(net::kMaxSymbolSize / 4 * 4, (f + 3) / 4 * 4));
      auto oti = fec::Oti::ForObject(f, t);
      if (!oti.ok()) {
        error_ = oti.status();
        return;
      }
      net::PacketHeader h;
      h.kind = o.kind;
      h.object_id = net::ObjectIdOf(o.hash);
      h.oti = oti->Encode();
      for (uint32_t j = 0; j < std::max<uint32_t>(1, options_.bogus_otis); ++j) {
        if (options_.bogus_otis > 0) {
          const uint64_t claim = std::min<uint64_t>(16u << 20, f * 64 + 4 * (j + 1));
          auto bogus = fec::OtiForObject(claim);
          if (!bogus.ok()) {
            error_ = bogus.status();
            return;
          }
          h.oti = bogus->Encode();
        }
        auto e = fec::ObjectEncoder::Create(*oti, o.bytes);
        if (!e.ok()) {
          error_ = e.status();
          return;
        }
        streams.push_back({std::move(e).value(), h, net::GroupAddress(o.hash), 0});
      }
    }
    std::mt19937 rng(std::random_device{}());
    std::vector<uint8_t> symbol, packet(2048);
    const auto start = std::chrono::steady_clock::now();
    uint64_t sent = 0;
    while (!stop.stop_requested()) {
      for (auto& s : streams) {
        const uint16_t t = s.header.symbol_size();
        symbol.resize(t);
        for (uint32_t b = 0; b < options_.burst && !stop.stop_requested(); ++b) {
          for (uint32_t sbn = 0; sbn < s.encoder.block_count(); ++sbn) {
            if (options_.garbage || options_.bogus_otis > 0) {
              for (auto& x : symbol) x = static_cast<uint8_t>(rng());
            } else if (!s.encoder.Symbol(static_cast<uint8_t>(sbn), s.esi, symbol).ok()) {
              continue;
            }
            s.header.payload_id = fec::PayloadId{static_cast<uint8_t>(sbn), s.esi}.Encode();
            auto len = net::EncodePacket(s.header, symbol, packet);
            if (!len.ok()) continue;
            net::OutgoingDatagram d{s.group, std::span(packet.data(), *len)};
            while (!stop.stop_requested()) {
              auto n = socket->Send(std::span(&d, 1));
              if (n.ok() && *n == 1) break;
              std::this_thread::sleep_for(std::chrono::microseconds(200));  // buffer full
            }
            ++sent;
            sent_ = sent;
            // Pace: never ahead of packets_per_second.
            const auto due =
                start + std::chrono::microseconds(sent * 1000000 / options_.packets_per_second);
            std::this_thread::sleep_until(due);
          }
          ++s.esi;
        }
      }
    }
  }

  const testbed::Host& host_;
  std::vector<Object> objects_;
  Options options_;
  std::atomic<uint64_t> sent_{0};
  Status error_;
  std::jthread thread_;  // last: started after the rest, and stopped and joined before it goes
};

}  // namespace lcfs::sync::testing
