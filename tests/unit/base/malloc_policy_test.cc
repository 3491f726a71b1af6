#include "lcfs/malloc_policy.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/wait.h>

#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace lcfs {
namespace {

// Under AddressSanitizer, malloc is the sanitizer's (freed blocks wait in
// its quarantine): only glibc's own heap is trimmed.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LCFS_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define LCFS_TEST_ASAN 1
#endif

#if defined(__GLIBC__) && !defined(LCFS_TEST_ASAN)
// Resident memory of this process, in KiB (VmRSS of /proc/self/status).
long ResidentKiB() {
  std::ifstream in("/proc/self/status");
  std::string key;
  long value = 0;
  while (in >> key) {
    if (key == "VmRSS:") {
      in >> value;
      return value;
    }
    in.ignore(1 << 16, '\n');
  }
  return -1;
}

TEST(HeapTrimmer, TrimNowGivesBackFreePagesInTheMiddleOfTheHeap) {
  // 48 MiB of small blocks, then all but every 64th freed: the survivors pin
  // the heap's top, so only a trim inside the arena returns the rest.
  constexpr size_t kBlocks = 48 * 1024 * 4, kSize = 256;
  std::vector<std::unique_ptr<char[]>> blocks(kBlocks);
  for (auto& b : blocks) {
    b = std::make_unique<char[]>(kSize);  // zeroed: touched, so resident
  }
  for (size_t i = 0; i < kBlocks; ++i) {
    if (i % 64 != 63) blocks[i].reset();
  }
  const long before = ResidentKiB();
  HeapTrimmer::TrimNow();
  const long after = ResidentKiB();
  EXPECT_LT(after, before - 16 * 1024) << "before " << before << " KiB, after " << after << " KiB";
}

// The heap arenas of this process (one <heap> element each in malloc_info).
int Arenas() {
  char* text = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&text, &size);
  if (out == nullptr) return -1;
  malloc_info(0, out);
  std::fclose(out);
  int count = 0;
  for (const char* p = text; (p = std::strstr(p, "<heap nr=")) != nullptr; ++p) ++count;
  std::free(text);
  return count;
}

// Threads that allocate at once share kArenaMax arenas; without the policy
// each of them gets one of its own (up to 8 per core).
TEST(MallocPolicy, ThreadsShareAtMostArenaMaxArenas) {
  // A fresh process (this one's threads already made arenas), running only
  // this test: its exit status is the number of arenas.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ApplyMallocPolicy();
        constexpr int kThreads = 8;
        std::barrier all_allocated(kThreads);
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
          threads.emplace_back([&all_allocated] {
            std::vector<std::unique_ptr<char[]>> blocks;
            for (int i = 0; i < 100; ++i) blocks.push_back(std::make_unique<char[]>(100));
            all_allocated.arrive_and_wait();  // every thread holds blocks at once
          });
        }
        for (auto& t : threads) t.join();
        std::exit(Arenas());
      },
      [](int status) { return WIFEXITED(status) && WEXITSTATUS(status) <= kArenaMax; }, "");
}
#endif

TEST(HeapTrimmer, StopsAtOnceWhateverItsPeriod) {
  // Would block for an hour if the destructor waited for the period; the
  // test's own timeout (ctest) catches that.
  HeapTrimmer trimmer(std::chrono::hours(1));
}

}  // namespace
}  // namespace lcfs
