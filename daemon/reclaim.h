/* SPDX-License-Identifier: MIT */
/*
 * daemon/reclaim.h - the daemon side of kvshm's cross-process RCU: reader
 * slot assignment, retire lists and batched grace periods.
 *
 * Nothing retired is freed before every reader that could have seen it has
 * left its read section (see shm/epoch.h for the argument). One reclaim
 * thread runs grace periods: every few milliseconds while anything is
 * pending, at once when a batch grows large or a writer waits for memory.
 *
 * Thread-safe. Daemon-private: never put any of this in shared memory.
 */
#ifndef KVD_RECLAIM_H
#define KVD_RECLAIM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "alloc.h"
#include "hist.h"
#include "layout.h"

struct kvd_reclaim;

/*
 * A copy of the reclaim counters for stats, taken under r->lock (the
 * latency histogram with relaxed loads, see hist.h).
 */
struct kvd_reclaim_stats {
	uint64_t grace_periods;		/* completed since start */
	struct kvd_hist_snap gp;	/* each grace period's duration: the
					 * epoch bump, the barrier and the wait
					 * for every reader slot */
	uint64_t retired_pending;	/* retired, not yet freed */
	uint64_t slots_used;
	uint64_t stalled_readers;	/* slots now stuck in a section > 1 s */
	uint64_t stalls_total;		/* times a slot was found stuck (each
					 * stall counts once, however long) */
	uint64_t revoked_readers;	/* slots in a revoked section now */
	uint64_t revocations;		/* sections revoked since start */
	uint64_t gets, hits, misses;	/* summed over slots, live and released */
};

int kvd_reclaim_init(struct kvd_reclaim **r, struct kvs_header *hdr,
		     struct kvs_slot *slots, uint32_t nslots,
		     struct kva *heap, bool membarrier, uint32_t revoke_ms);
/* Stop the reclaim thread. Pending objects are not freed: at exit the
 * segment is abandoned, and readers may still be inside it. */
void kvd_reclaim_destroy(struct kvd_reclaim *r);

/* kvd_retire - free @off (from @heap) after a grace period. */
void kvd_retire(struct kvd_reclaim *r, kvs_off_t off);

/*
 * kvd_reclaim_sync - wait until everything retired before this call is
 * freed. Return: 0, or -ETIMEDOUT after @timeout_ms (a stalled reader).
 */
int kvd_reclaim_sync(struct kvd_reclaim *r, int timeout_ms);

/* Reader slots now stuck in a section for over a second. */
uint64_t kvd_reclaim_stalled(struct kvd_reclaim *r);
/*
 * kvd_slot_state - KVD_SLOT_* bits of slot @idx now: stalled (a grace
 * period has waited over a second for its section) or revoked (in a
 * section kvshmd stopped waiting for). For CLIENTS.
 */
#define KVD_SLOT_STALLED	1
#define KVD_SLOT_REVOKED	2
unsigned int kvd_slot_state(struct kvd_reclaim *r, uint32_t idx);

/* Slots in a revoked section now: while above 0 the heap is held
 * (kva_hold()), and no page changes class or kind. */
uint64_t kvd_reclaim_revoked(struct kvd_reclaim *r);

/* Reader slots: assigned per client connection, released at its close. */
int kvd_slot_assign(struct kvd_reclaim *r, pid_t pid, uint32_t *idx);
void kvd_slot_release(struct kvd_reclaim *r, uint32_t idx);

void kvd_reclaim_get_stats(struct kvd_reclaim *r, struct kvd_reclaim_stats *st);

#endif /* KVD_RECLAIM_H */
