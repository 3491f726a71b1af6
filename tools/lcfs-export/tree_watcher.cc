#include "tree_watcher.h"

#include <dirent.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

namespace lcfs::exporter {
namespace {

constexpr uint32_t kMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB |
                           IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |
                           IN_DONT_FOLLOW | IN_ONLYDIR;

}  // namespace

Result<TreeWatcher> TreeWatcher::Open(const std::string& root) {
  TreeWatcher w;
  w.fd_.reset(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!w.fd_) return Status::FromErrno(errno, "inotify_init1");
  w.AddTree(root);
  if (w.dirs_.empty()) return Status::FromErrno(errno, "watch " + root);
  return w;
}

void TreeWatcher::AddTree(const std::string& top) {
  std::vector<std::string> pending{top};
  while (!pending.empty()) {
    const std::string dir = std::move(pending.back());
    pending.pop_back();
    const int wd = inotify_add_watch(fd_.get(), dir.c_str(), kMask);
    if (wd < 0) {
      ++unwatched_;
      continue;
    }
    dirs_[wd] = dir;
    DIR* d = opendir(dir.c_str());
    if (!d) continue;
    while (const dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      const std::string path = dir + "/" + name;
      struct stat st;
      if (e->d_type == DT_DIR ||
          (e->d_type == DT_UNKNOWN && lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))) {
        pending.push_back(path);
      }
    }
    closedir(d);
  }
}

bool TreeWatcher::Drain() {
  alignas(inotify_event) char buf[16384];
  bool changed = false;
  for (;;) {
    const ssize_t n = read(fd_.get(), buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      if (e->mask & IN_Q_OVERFLOW) {
        changed = true;
        continue;
      }
      if (e->mask & IN_IGNORED) {
        dirs_.erase(e->wd);
        continue;
      }
      changed = true;
      if ((e->mask & IN_ISDIR) && (e->mask & (IN_CREATE | IN_MOVED_TO)) && e->len > 0) {
        auto it = dirs_.find(e->wd);
        if (it != dirs_.end()) AddTree(it->second + "/" + e->name);
      }
    }
  }
  return changed;
}

}  // namespace lcfs::exporter
