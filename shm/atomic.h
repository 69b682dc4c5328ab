/* SPDX-License-Identifier: MIT */
/*
 * shm/atomic.h - the memory-ordering primitives kvshm's shared memory uses.
 *
 * liburcu supplies the barriers (cmm_barrier, cmm_smp_mb) and the spin hint.
 * liburcu 0.13 (Debian 12) has no acquire/release loads and stores:
 * cmm_smp_wmb() orders stores only, and a reader leaving its section needs
 * its loads ordered before its store too. So acquire/release use the
 * compiler's __atomic builtins, which compile to plain moves on x86 and to
 * ldar/stlr on arm64, and which ThreadSanitizer understands.
 *
 * Must never hold anything but ordering primitives.
 */
#ifndef KVS_ATOMIC_H
#define KVS_ATOMIC_H

#include <urcu/arch.h>
#include <urcu/compiler.h>
#include <urcu/system.h>

#define kvs_load_acquire(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define kvs_store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define kvs_load_relaxed(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#define kvs_store_relaxed(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* Compiler-only barrier (membarrier mode) and full fence (fallback). */
#define kvs_barrier()		cmm_barrier()
#define kvs_smp_mb()		cmm_smp_mb()
#define kvs_cpu_relax()		caa_cpu_relax()
/* Loads before it are ordered before loads and stores after it: no
 * instruction on x86, where loads are not reordered with each other. */
#define kvs_fence_acquire()	__atomic_thread_fence(__ATOMIC_ACQUIRE)

#endif /* KVS_ATOMIC_H */
