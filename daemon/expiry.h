/* SPDX-License-Identifier: MIT */
/*
 * daemon/expiry.h - the expiry index and the sweep that frees expired
 * keys within a bounded delay, at a cost proportional to the keys that
 * expire, not to the keys stored.
 *
 * The index is one binary min-heap per shard of (expiry, hash, item
 * offset), kept from the hook events (a KVD_EV_SET with an expiry pushes
 * one entry) and rebuilt from the table by kvd_expiry_rebuild(). Entries
 * are never updated in place: an overwritten, deleted or persisted key
 * leaves a stale entry, recognised when it surfaces because its item
 * offset is no longer live under that key's hash (kvd_index_find_item()),
 * and dropped. A shard whose heap grows past twice its keys is compacted,
 * so stale entries cost amortised O(1) per write and bounded memory.
 *
 * Locking: a shard's heap is guarded by that shard's lock (the one exec
 * holds when it emits events), so the index needs no lock of its own.
 * next[] is the only field read without it (see expiry.c).
 *
 * Daemon-private: nothing here is in shared memory.
 */
#ifndef KVD_EXPIRY_H
#define KVD_EXPIRY_H

#include <stdbool.h>
#include <stdint.h>

#include "table.h"

struct kvd;
struct kvd_expiry;

/* Build the index (empty) and subscribe it to the hooks; no thread yet. */
int kvd_expiry_init(struct kvd_expiry **ex, struct kvd *d);

/*
 * kvd_expiry_rebuild - forget the index and rebuild it from the table,
 * one shard at a time under its lock. For start-up, after recovery has
 * loaded data into the table by any means (events or not). Return 0 or
 * -ENOMEM (the index is then partial; keys it lacks are still expired
 * lazily by writers and treated as absent by readers).
 */
int kvd_expiry_rebuild(struct kvd_expiry *ex);

/* Start the sweep thread. 0 or -errno. */
int kvd_expiry_start(struct kvd_expiry *ex);

/* Stop the sweep thread (if started; idempotent). */
void kvd_expiry_stop(struct kvd_expiry *ex);

/* Stop the sweep thread and free the index. */
void kvd_expiry_destroy(struct kvd_expiry *ex);

/*
 * For the volatile-* eviction policies (evict.c), shard @shard locked:
 * kvd_expiry_top - the live key with the soonest expiry in the shard
 * (stale entries met on the way are dropped); false if none.
 * kvd_expiry_sample - the live key of entry @idx % (entries) of the
 * shard's heap; false if that entry is stale (it is dropped) or the shard
 * has none. Consecutive @idx give distinct entries (heap order, not
 * expiry order), so a caller can read all of a small heap.
 * kvd_expiry_count - entries in the shard's heap, stale ones included.
 */
bool kvd_expiry_top(struct kvd_expiry *ex, uint32_t shard, uint64_t *hash,
		    struct kvs_pos *pos, struct kvs_iref *r);
bool kvd_expiry_sample(struct kvd_expiry *ex, uint32_t shard, uint64_t idx,
		       uint64_t *hash, struct kvs_pos *pos, struct kvs_iref *r);
uint32_t kvd_expiry_count(struct kvd_expiry *ex, uint32_t shard);

/* Soonest expiry recorded for @shard (INT64_MAX: none); no lock. */
int64_t kvd_expiry_next(struct kvd_expiry *ex, uint32_t shard);

struct kvd_expiry_stats {
	uint64_t entries;	/* heap entries, stale ones included */
	uint64_t examined;	/* entries taken off a heap by the sweep */
	uint64_t stale;		/* of those, stale (dropped, no work) */
	uint64_t removed;	/* keys the sweep expired */
	uint64_t compacted;	/* entries scanned by compactions */
	uint64_t sweeps;	/* sweep passes */
	uint64_t lag_p99_ms;	/* 99th percentile of (removal - expiry) */
	uint64_t lag_max_ms;
};
void kvd_expiry_get_stats(struct kvd_expiry *ex, struct kvd_expiry_stats *st);

#endif /* KVD_EXPIRY_H */
