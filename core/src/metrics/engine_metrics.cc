#include "lcfs/metrics/engine_metrics.h"

#include <cstddef>

namespace lcfs::metrics {

void AddExportMetrics(const share::ShareStats& s, Scrape& out) {
  auto v = [](const std::atomic<uint64_t>& a) { return static_cast<double>(a.load()); };
  out.Counter("lcfs_export_sent_bytes_total",
              "UDP payload bytes sent (every copy on every interface)", v(s.bytes_sent));
  out.Counter("lcfs_export_sent_packets_total", "Symbol packets sent", v(s.symbols_sent));
  out.Counter("lcfs_export_send_errors_total", "Failed sends (socket errors, full buffers)",
              v(s.send_errors));
  out.Gauge("lcfs_export_active_objects", "Objects being sent now", v(s.active_objects));
  out.Gauge("lcfs_export_listeners",
            "Multicast groups (per interface) with listeners being served now", v(s.active_groups));
  out.Gauge("lcfs_export_published_objects", "Objects in the published index",
            v(s.published_objects));
  out.Counter("lcfs_export_served_objects_total", "Times an object started sending",
              v(s.objects_served));
  out.Counter("lcfs_export_mld_joins_total", "MLD join events seen", v(s.joins));
  out.Counter("lcfs_export_mld_leaves_total", "MLD leave events seen", v(s.leaves));
  out.Counter("lcfs_export_unknown_group_joins_total", "Joins of groups that name no object",
              v(s.unknown_groups));
  out.Counter("lcfs_export_stale_objects_total", "Objects refused because their file changed",
              v(s.stale_objects));
  out.Counter("lcfs_export_encoder_loads_total", "RaptorQ encoders built", v(s.encoder_loads));
  out.Gauge("lcfs_export_encoder_memory_bytes", "Memory held by RaptorQ encoders",
            v(s.encoder_bytes));
}

std::string DropReasonLabel(net::PacketDrop reason) {
  std::string label = net::PacketDropName(reason);
  for (char& c : label)
    if (c == ' ' || c == '-') c = '_';
  return label;
}

void AddReceiverMetrics(const std::string& prefix, const sync::FetcherStats& s, Scrape& out) {
  auto d = [](uint64_t x) { return static_cast<double>(x); };
  out.Counter(prefix + "_received_packets_total", "Datagrams accepted by the packet parser",
              d(s.packets.accepted));
  for (size_t r = 1; r < net::kPacketDropReasons; ++r) {
    const auto reason = static_cast<net::PacketDrop>(r);
    out.Counter(prefix + "_dropped_packets_total", "Datagrams dropped, by reason",
                d(s.packets[reason]), {{"reason", DropReasonLabel(reason)}});
  }
  out.Counter(prefix + "_rejected_packets_total",
              "Well-formed packets refused (bad OTI, size or source)", d(s.rejected_packets));
  out.Counter(prefix + "_late_packets_total", "Packets for objects just completed",
              d(s.late_symbols));
  out.Counter(prefix + "_discarded_symbols_total",
              "Symbols that did not verify or came from other senders", d(s.discarded_symbols));
  out.Counter(prefix + "_decoded_symbols_total", "Symbols given to a decoder", d(s.symbols));
  out.Counter(prefix + "_verify_failures_total", "Decoded objects whose bytes did not match",
              d(s.verify_failures));
  out.Counter(prefix + "_network_objects_total", "Objects received and verified", d(s.completed));
  out.Counter(prefix + "_network_bytes_total", "Bytes of the objects received and verified",
              d(s.bytes));
  out.Counter(prefix + "_timeouts_total", "Requests that timed out", d(s.timed_out));
  out.Gauge(prefix + "_joined_groups", "Multicast groups joined now", d(s.joined));
  // What hostile hosts cost (docs/security.md): each bound at work.
  out.Counter(prefix + "_wrong_oti_packets_total",
              "Packets refused because their OTI is not the one the known size gives",
              d(s.wrong_oti_packets));
  out.Counter(prefix + "_no_decoder_packets_total",
              "Packets refused because every decoder slot or the decoder budget was taken",
              d(s.no_decoder_packets));
  out.Counter(prefix + "_evicted_decoders_total", "Decoders given up for another sender's",
              d(s.evicted_decoders));
  out.Counter(prefix + "_conflicting_symbols_total",
              "Symbols whose position already held another payload (forgery)",
              d(s.conflicting_symbols));
  out.Counter(prefix + "_retried_decodes_total", "Decodes retried from a subset of kept symbols",
              d(s.retried_decodes));
  out.Counter(prefix + "_recovered_decodes_total", "Retried decodes that verified",
              d(s.recovered_decodes));
  out.Gauge(prefix + "_decoder_memory_peak_bytes",
            "High-water mark of the decoder budget in use (bytes)", d(s.decoder_memory_peak));
  out.Counter(prefix + "_interface_changes_total",
              "Interfaces that went down, went away, came up or appeared", d(s.interface_changes));
  out.Counter(prefix + "_receive_errors_total", "Failed receive calls (each backs off)",
              d(s.receive_errors));
  out.Gauge(prefix + "_interfaces", "Interfaces the groups are joined on now", d(s.interfaces));
}

}  // namespace lcfs::metrics
