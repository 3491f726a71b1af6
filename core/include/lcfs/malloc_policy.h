// Heap policy for lcfs's long-running programs (the mount, the exporter,
// lcfs-sync).
//
// They allocate and free object buffers of up to a chunk (1 MiB by default)
// all the time, from many threads. glibc serves a freed large block's
// successors from the heap once its dynamic mmap threshold has risen above
// that size, and then keeps the pages in whichever per-thread arena served
// them: resident memory climbs to the peak of every arena together and stays
// there (measured by tests/soak/soak.sh: a mount grew from 35 to 43 MB after
// its first minute, and to 10-13 MB flat with this policy). A fixed threshold
// below the chunk size makes every such buffer its own mapping, returned to
// the kernel when it is freed.
#pragma once

namespace lcfs {

// Call once at the start of main(), before threads start. Has no effect with
// an allocator other than glibc's, or when GLIBC_TUNABLES already sets
// glibc.malloc.mmap_threshold; never fails the program.
void ApplyMallocPolicy();

}  // namespace lcfs
