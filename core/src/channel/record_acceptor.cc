#include "lcfs/channel/record_acceptor.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "lcfs/full_io.h"
#include "lcfs/unique_fd.h"

namespace lcfs::channel {

Result<RecordAcceptor> RecordAcceptor::Open(const ChannelId& channel, std::string state_path) {
  RecordAcceptor a(channel);
  a.state_path_ = std::move(state_path);
  UniqueFd fd(open(a.state_path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return a;
    return Status::FromErrno(errno, a.state_path_);
  }
  // One byte more than a record: a longer file is as wrong as a shorter one.
  std::array<uint8_t, kRecordSize + 1> bytes{};
  auto got = ReadFull(fd.get(), bytes);
  if (!got.ok()) return got.status().WithContext(a.state_path_);
  Record r;
  if (*got != kRecordSize ||
      ParseRecord(std::span(bytes).first(kRecordSize), &r) != RecordDrop::kNone ||
      !VerifyRecord(r) || r.channel != channel) {
    return Status::Error(EINVAL, a.state_path_ +
                                     ": not a valid record of this channel; remove it to "
                                     "accept any sequence number again");
  }
  a.current_ = r;
  return a;
}

RecordDrop RecordAcceptor::Judge(std::span<const uint8_t> datagram, uint64_t now, Record* r) const {
  const RecordDrop parsed = ParseRecord(datagram, r);
  if (parsed != RecordDrop::kNone) return parsed;
  if (r->channel != channel_) return RecordDrop::kWrongChannel;
  // A repeat of the current record costs a comparison, not a verification.
  if (current_ && *r == *current_) return RecordDrop::kRepeat;
  if (!VerifyRecord(*r)) return RecordDrop::kBadSignature;
  if (current_ && r->sequence <= current_->sequence) return RecordDrop::kOldSequence;
  if (r->time > now && r->time - now > clock_skew_) return RecordDrop::kFuture;
  if (now >= r->time && now - r->time >= r->validity) return RecordDrop::kExpired;
  return RecordDrop::kNone;
}

RecordDrop RecordAcceptor::Offer(std::span<const uint8_t> datagram, uint64_t now) {
  Record r;
  const RecordDrop verdict = Judge(datagram, now, &r);
  counters_.Count(verdict);
  if (verdict != RecordDrop::kNone) return verdict;
  current_ = r;
  if (!state_path_.empty() && !Save(r).ok()) ++save_errors_;
  return verdict;
}

Status RecordAcceptor::Save(const Record& record) const {
  const RecordBytes bytes = EncodeRecord(record);
  const std::string tmp = state_path_ + ".tmp";
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd) return Status::FromErrno(errno, tmp);
  Status s = WriteFull(fd.get(), bytes).WithContext(tmp);
  if (s.ok() && fsync(fd.get()) != 0) s = Status::FromErrno(errno, tmp + ": fsync");
  fd.reset();
  if (s.ok() && rename(tmp.c_str(), state_path_.c_str()) != 0)
    s = Status::FromErrno(errno, state_path_);
  if (!s.ok()) unlink(tmp.c_str());
  return s;
}

}  // namespace lcfs::channel
