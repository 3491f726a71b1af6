// The figures of the share and sync engines under their Prometheus names,
// named once here for the metrics endpoints (lcfs-export --metrics, the
// mount's metrics=) and the summaries that print the same figures (lcfs-sync).
#pragma once

#include <string>

#include "lcfs/metrics/scrape.h"
#include "lcfs/share/share.h"
#include "lcfs/sync/fetcher.h"

namespace lcfs::metrics {

// lcfs_export_*: what the exporter sends and to whom.
void AddExportMetrics(const share::ShareStats& stats, Scrape& out);

// <prefix>_*: what a receiver (the mount: "lcfs_mount", lcfs-sync:
// "lcfs_sync") got from the network, with its packet drops by reason.
void AddReceiverMetrics(const std::string& prefix, const sync::FetcherStats& stats, Scrape& out);

// "bad symbol size" -> "bad_symbol_size": a drop reason as a label value.
std::string DropReasonLabel(net::PacketDrop reason);

}  // namespace lcfs::metrics
