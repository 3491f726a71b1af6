#include "fuse_mount.h"

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "lcfs/mutex.h"

namespace lcfs::fs {
namespace {

// The request threads of one Run(): what each needs, and how the waiting
// thread learns that one ended.
struct Pool {
  fuse_session* se = nullptr;
  Mutex mu;
  CondVar ended;  // a worker returned
  int running GUARDED_BY(mu) = 0;
  int error GUARDED_BY(mu) = 0;  // the first receive error (negative errno)
};

struct Worker {
  Pool* pool = nullptr;
  pthread_t thread{};
  fuse_buf buf{};  // libfuse allocates its memory at the first request
};

// One request thread, as in libfuse's multi-threaded loop but never started
// or ended on demand: take a request, serve it, until the session ends. It
// can be cancelled only while it waits for a request (Run cancels the ones
// still blocked in read() once the session has exited), so no request is
// left half served and no C++ frame of ours is unwound by it.
void* Serve(void* arg) {
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, nullptr);
  auto* w = static_cast<Worker*>(arg);
  fuse_session* se = w->pool->se;
  int error = 0;
  while (!fuse_session_exited(se)) {
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, nullptr);
    const int res = fuse_session_receive_buf(se, &w->buf);
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, nullptr);
    if (res == -EINTR) continue;
    if (res <= 0) {  // 0: unmounted (libfuse marked the session exited)
      if (res < 0) {
        error = res;
        fuse_session_exit(se);
      }
      break;
    }
    fuse_session_process_buf(se, &w->buf);
  }
  {
    MutexLock lock(&w->pool->mu);
    w->pool->running--;
    if (error != 0 && w->pool->error == 0) w->pool->error = error;
  }
  w->pool->ended.SignalAll();
  return nullptr;
}

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
  Pool pool;
  pool.se = session_;
  const unsigned n = std::max(1u, opts_.max_threads);
  std::vector<std::unique_ptr<Worker>> workers;
  // As libfuse's workers do, they leave the signals that end the mount to
  // the other threads, this one among them.
  sigset_t block, old;
  sigemptyset(&block);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&block, sig);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  int create_error = 0;
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    w->pool = &pool;
    {
      MutexLock lock(&pool.mu);
      pool.running++;
    }
    if (const int rc = pthread_create(&w->thread, nullptr, Serve, w.get()); rc != 0) {
      MutexLock lock(&pool.mu);
      pool.running--;
      create_error = rc;
      break;
    }
    workers.push_back(std::move(w));
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (workers.empty()) return Status::Error(create_error, "cannot start a FUSE request thread");

  // Until the session ends: a worker saw the unmount or an error, or a
  // signal handler or Exit() marked it exited. Those two only set a flag
  // (and a signal may land on any thread), hence the bounded wait.
  {
    MutexLock lock(&pool.mu);
    while (!fuse_session_exited(session_) && pool.running == static_cast<int>(workers.size()))
      pool.ended.WaitFor(&pool.mu, std::chrono::milliseconds(100));
  }
  fuse_session_exit(session_);  // one worker's error ends them all
  // Workers still waiting for a request would wait for ever.
  for (auto& w : workers) pthread_cancel(w->thread);
  for (auto& w : workers) {
    pthread_join(w->thread, nullptr);
    std::free(w->buf.mem);
  }
  MutexLock lock(&pool.mu);
  if (pool.error < 0) return Status::Error(-pool.error, "FUSE session loop failed");
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
