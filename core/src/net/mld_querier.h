// MldQuerier: the MLDv2 querier role (RFC 3810 section 7.1, 7.6).
//
// The exporter must learn when the last listener of a group has gone, and a
// snooping switch forwards reports only toward queriers; so on each
// interface this sends General Queries every Query Interval (more often at
// start-up), unless a querier with a lower address has been heard within
// the Other Querier Present Interval (election). After a leave it sends
// Multicast Address (and Source) Specific Queries, Last Listener Query Count
// times, Last Listener Query Interval apart.
//
// It sends through a function (a raw socket in MldSnooper, a recorder in
// unit tests) and runs on the caller's clock: NextDeadline/ProcessTimers.
// Not thread-safe: one thread (the snooper's) owns it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lcfs/net/address.h"
#include "lcfs/net/mld_snooper.h"
#include "lcfs/net/mld_timers.h"
#include "lcfs/status.h"
#include "net/membership_table.h"
#include "net/mld_message.h"

namespace lcfs::net {

class MldQuerier {
 public:
  // Sends one ICMPv6 MLD message on `ifindex` from `source` to `destination`.
  using SendFunction = MldSendFunction;
  struct Counters {
    uint64_t general_queries = 0;
    uint64_t specific_queries = 0;
    uint64_t send_errors = 0;
    std::string last_error;
  };

  MldQuerier(const MldTimers& timers, SendFunction send);

  // Starts querying on `ifindex` from `own_address` (its link-local
  // address): the start-up General Queries begin at `now`. On an interface
  // already there (its link came back) it starts over the same way.
  void AddInterface(int ifindex, const Ipv6Address& own_address, MldTime now);
  // Stops querying on `ifindex` (it went away).
  void RemoveInterface(int ifindex);

  // A query from `from` was heard on `ifindex`: a lower address wins the
  // election and silences us for the Other Querier Present Interval.
  // Returns true if that changed the querier of the link.
  bool OnQueryHeard(int ifindex, const Ipv6Address& from, MldTime now);
  bool IsQuerier(int ifindex, MldTime now) const;

  // Starts the specific-query sequence for `q` (first query now) if we are
  // the querier on its interface; returns whether it did.
  bool StartSpecificQuery(const QueryRequest& q, MldTime now);

  std::optional<MldTime> NextDeadline() const;
  // A General Query that went out, and the Maximum Response Delay it gave.
  struct GeneralQuery {
    int ifindex = 0;
    Millis max_response{};
  };
  // Sends what is due. Appends to `general` the General Queries that went
  // out and to `resumed` the interfaces where we became querier again.
  void ProcessTimers(MldTime now, std::vector<GeneralQuery>* general = nullptr,
                     std::vector<int>* resumed = nullptr);
  const Counters& counters() const { return counters_; }

 private:
  struct Interface {
    int ifindex;
    Ipv6Address own;
    MldTime next_general;
    int startup_left;
    MldTime other_querier_until{};
    Ipv6Address other;  // the querier that silences us, while one does
  };
  struct Pending {
    QueryRequest query;
    int left;
    MldTime next;
  };
  // Returns the Maximum Response Delay it asked for.
  Millis SendGeneral(Interface& i, MldTime now);
  void SendSpecific(const QueryRequest& q, const Interface& i);
  Interface* FindInterface(int ifindex);
  const Interface* FindInterface(int ifindex) const;

  MldTimers timers_;
  SendFunction send_;
  std::vector<Interface> interfaces_;
  std::vector<Pending> pending_;
  Counters counters_;
};

}  // namespace lcfs::net
