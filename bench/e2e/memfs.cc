// memfs: the smallest useful FUSE filesystem, a baseline for benchmarks.
//
//   memfs FILE MOUNTPOINT      (foreground; unmount with fusermount3 -u)
//
// Loads FILE into memory and serves it read-only as MOUNTPOINT/<basename>,
// replying to reads straight from memory. Whatever lcfs adds on top of FUSE
// itself (cache lookups, chunk files, verification) shows as the difference
// between this and lcfs on the same bytes.
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

std::vector<char> g_data;
std::string g_name;
constexpr fuse_ino_t kFileIno = 2;

void Attr(fuse_ino_t ino, struct stat* st) {
  std::memset(st, 0, sizeof *st);
  st->st_ino = ino;
  if (ino == FUSE_ROOT_ID) {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
  } else {
    st->st_mode = S_IFREG | 0444;
    st->st_nlink = 1;
    st->st_size = static_cast<off_t>(g_data.size());
    st->st_blksize = 1 << 20;
  }
}

void Init(void*, fuse_conn_info* conn) {
  conn->max_readahead = UINT_MAX;
  conn->want |= conn->capable & FUSE_CAP_ASYNC_READ;
}

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (parent != FUSE_ROOT_ID || g_name != name) return (void)fuse_reply_err(req, ENOENT);
  fuse_entry_param e{};
  e.ino = kFileIno;
  e.attr_timeout = e.entry_timeout = 86400;
  Attr(kFileIno, &e.attr);
  fuse_reply_entry(req, &e);
}

void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  struct stat st;
  Attr(ino, &st);
  fuse_reply_attr(req, &st, 86400);
}

void Open(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  fi->keep_cache = 1;
  fuse_reply_open(req, fi);
}

void Read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info*) {
  const size_t start = std::min(static_cast<size_t>(off), g_data.size());
  fuse_reply_buf(req, g_data.data() + start, std::min(size, g_data.size() - start));
}

void ReadDir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info*) {
  std::vector<char> buf(size);
  size_t used = 0;
  const char* names[] = {".", "..", g_name.c_str()};
  for (off_t i = off; i < 3; ++i) {
    struct stat st;
    Attr(i == 2 ? kFileIno : FUSE_ROOT_ID, &st);
    size_t n = fuse_add_direntry(req, buf.data() + used, size - used, names[i], &st, i + 1);
    if (n > size - used) break;
    used += n;
  }
  fuse_reply_buf(req, buf.data(), used);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: memfs FILE MOUNTPOINT\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  g_data.assign(std::istreambuf_iterator<char>(in), {});
  g_name = std::string(argv[1]).substr(std::string(argv[1]).rfind('/') + 1);
  fuse_lowlevel_ops ops{};
  ops.init = Init;
  ops.lookup = Lookup;
  ops.getattr = GetAttr;
  ops.open = Open;
  ops.read = Read;
  ops.readdir = ReadDir;
  char prog[] = "memfs", o[] = "-o", opts[] = "ro,fsname=memfs";
  char* fargv[] = {prog, o, opts};
  fuse_args args = FUSE_ARGS_INIT(3, fargv);
  fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, nullptr);
  if (!se || fuse_session_mount(se, argv[2]) != 0) return 1;
  fuse_set_signal_handlers(se);
  fuse_loop_config* cfg = fuse_loop_cfg_create();
  const int rc = fuse_session_loop_mt(se, cfg);
  fuse_loop_cfg_destroy(cfg);
  fuse_remove_signal_handlers(se);
  fuse_session_unmount(se);
  fuse_session_destroy(se);
  return rc < 0 ? 1 : 0;
}
