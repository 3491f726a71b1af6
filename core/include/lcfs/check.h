// LCFS_DCHECK: invariants checked in debug builds.
//
// LCFS_DCHECK(cond) aborts with the file, line and condition when `cond` is
// false, in builds without NDEBUG and in builds configured with LCFS_DCHECK
// (the sanitizer build turns it on, so the unit tests run with the checks).
// Elsewhere it compiles to nothing and does not evaluate `cond`, so a check
// may cost what it needs (a whole-matrix scan). For checking code longer
// than an expression: `if constexpr (kDcheckIsOn) { ... }`.
//
// For invariants only: errors that input can cause are Status, never a check.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace lcfs {

#if !defined(NDEBUG) || defined(LCFS_DCHECK_ON)
inline constexpr bool kDcheckIsOn = true;
#else
inline constexpr bool kDcheckIsOn = false;
#endif

namespace internal {
[[noreturn]] inline void DcheckFailed(const char* cond, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: LCFS_DCHECK(%s) failed\n", file, line, cond);
  std::abort();
}
}  // namespace internal

}  // namespace lcfs

#define LCFS_DCHECK(cond)                                                                          \
  do {                                                                                             \
    if (::lcfs::kDcheckIsOn && !(cond)) ::lcfs::internal::DcheckFailed(#cond, __FILE__, __LINE__); \
  } while (0)
