// Clang thread-safety annotations (-Wthread-safety), empty for other
// compilers. They let the compiler check the locking a class documents:
//
//   class Cache {
//     Mutex mu_;
//     std::map<Hash, Entry> entries_ GUARDED_BY(mu_);
//     void EvictLocked() REQUIRES(mu_);
//   };
//
// See https://clang.llvm.org/docs/ThreadSafetyAnalysis.html for the meaning
// of each attribute. Use them with lcfs::Mutex (lcfs/mutex.h): libstdc++'s
// std::mutex carries no annotations, so the analysis cannot see it.
#pragma once

#if defined(__clang__)
#define LCFS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define LCFS_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) LCFS_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY LCFS_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) LCFS_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) LCFS_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) LCFS_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) LCFS_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) LCFS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) LCFS_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) LCFS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) LCFS_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) LCFS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) LCFS_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) LCFS_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) LCFS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) LCFS_THREAD_ANNOTATION(assert_capability(x))
#define RETURN_CAPABILITY(x) LCFS_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS LCFS_THREAD_ANNOTATION(no_thread_safety_analysis)
