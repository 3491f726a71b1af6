#include "fuse_mount.h"

#include <fuse_lowlevel.h>
#include <sys/mount.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace lcfs::fs {
namespace {

// "major:minor" of the filesystem mounted at `path`, from mountinfo.
std::string MountDevice(const std::string& path) {
  char resolved[PATH_MAX];
  const std::string want = ::realpath(path.c_str(), resolved) ? resolved : path;
  std::ifstream in("/proc/self/mountinfo");
  std::string line, found;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mountpoint;
    fields >> id >> parent >> dev >> root >> mountpoint;
    if (mountpoint == want) found = dev;  // the last one is the top of the stack
  }
  return found;
}

}  // namespace

Result<std::unique_ptr<FuseMount>> FuseMount::Mount(Filesystem& fs, const FuseMountOptions& opts) {
  auto mount = std::make_unique<FuseMount>(opts);
  // Read-only in the kernel too: writes fail with EROFS before reaching us.
  // max_read must match what Filesystem's init sets (kMaxReadBytes).
  std::string options = "ro,default_permissions,fsname=" + opts.fsname +
                        ",subtype=lcfs,max_read=" + std::to_string(kMaxReadBytes);
  if (::geteuid() == 0) options += ",allow_other";  // a system mount serves every user
  for (const std::string& o : opts.fuse_options) {
    if (o == "allow_other" && ::geteuid() == 0) continue;
    options += "," + o;
  }
  std::vector<std::string> argv = {"lcfs", "-o", options};
  if (opts.debug) argv.push_back("-d");
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(cargv.size()), cargv.data());
  const fuse_lowlevel_ops& ops = Filesystem::Operations();
  mount->session_ = fuse_session_new(&args, &ops, sizeof ops, &fs);
  fuse_opt_free_args(&args);
  if (!mount->session_)
    return Status::Error(EINVAL, "cannot create FUSE session (options: " + options + ")");
  if (fuse_session_mount(mount->session_, opts.mountpoint.c_str()) != 0)
    return Status::Error(EIO, "cannot mount FUSE filesystem at " + opts.mountpoint);
  // A hard mount's endless retries must end when the connection does.
  fs.fetcher().SetCancelCheck([se = mount->session_] { return fuse_session_exited(se) != 0; });
  if (opts.readahead_kb) fs.SetAfterInitHook([m = mount.get()] { m->TuneReadahead(); });
  return mount;
}

FuseMount::~FuseMount() {
  if (!session_) return;
  if (signals_) fuse_remove_signal_handlers(session_);
  // Also after Exit() or an external unmount: libfuse then finds the
  // connection gone and only frees its state.
  fuse_session_unmount(session_);
  fuse_session_destroy(session_);
}

Status FuseMount::InstallSignalHandlers() {
  if (fuse_set_signal_handlers(session_) != 0)
    return Status::Error(EIO, "cannot install signal handlers");
  signals_ = true;
  return Status::Ok();
}

Status FuseMount::Run() {
  fuse_loop_config* config = fuse_loop_cfg_create();
  if (!config) return Status::Error(ENOMEM, "fuse_loop_cfg_create");
  fuse_loop_cfg_set_max_threads(config, opts_.max_threads);
  // The pool never shrinks: a thread that libfuse lets go when more than
  // the idle bound are waiting is recreated at the next burst (a stack and
  // a 1 MiB request buffer mapped and unmapped each time), and a listing
  // whose requests come one after another was paying for that churn.
  fuse_loop_cfg_set_idle_threads(config, opts_.max_threads);
  fuse_loop_cfg_set_clone_fd(config, 0);
  const int rc = fuse_session_loop_mt(session_, config);
  fuse_loop_cfg_destroy(config);
  // A signal ends the loop with the signal number; that is a normal exit.
  if (rc < 0) return Status::Error(-rc, "FUSE session loop failed");
  return Status::Ok();
}

void FuseMount::Exit() {
  fuse_session_exit(session_);
  // Worker threads sit in read() on /dev/fuse: detaching the mount ends
  // the connection and wakes them.
  ::umount2(opts_.mountpoint.c_str(), MNT_DETACH);
}

void FuseMount::TuneReadahead() {
  const std::string dev = MountDevice(opts_.mountpoint);
  if (dev.empty()) return;
  std::ofstream out("/sys/class/bdi/" + dev + "/read_ahead_kb");
  if (out) out << opts_.readahead_kb << "\n";  // best effort: needs root
}

}  // namespace lcfs::fs
