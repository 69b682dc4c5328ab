/* SPDX-License-Identifier: MIT */
/*
 * shm/epoch.h - the reader side of kvshm's cross-process RCU.
 *
 * A reading thread owns a slot in the rw area. A read section is
 *
 *	slot->epoch = global_epoch;   barrier;   ...reads...;   slot->epoch = 0
 *
 * kvshmd retires an object (unlinks it), then in a grace period stores
 * global_epoch + 1, makes every reader's pending stores visible (membarrier
 * GLOBAL_EXPEDITED, or a full fence when readers fence themselves), and
 * waits until every assigned slot is 0 or at least the new epoch. A reader
 * whose epoch store the daemon missed did its loads after the daemon's
 * barrier, so it can no longer find the unlinked object.
 *
 * Barrier choice (kvs_read_enter's @fenced): with KVS_HDR_MEMBARRIER set in
 * the header and this process registered for
 * MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, a compiler barrier suffices;
 * otherwise a full fence (cmm_smp_mb) follows the epoch store.
 *
 * A section kvshmd waited on for longer than --reader-revoke-ms is revoked:
 * kvshmd stops waiting for it and says so in the slot (kvs_read_revoked()),
 * and the reader drops what it read and reads again in a new section.
 *
 * Never holds daemon state; the daemon side is daemon/reclaim.c.
 */
#ifndef KVS_EPOCH_H
#define KVS_EPOCH_H

#include <stdbool.h>

#include "atomic.h"
#include "layout.h"

/* Open a section in slot @s; the epoch it stored (never 0). */
static inline uint64_t kvs_read_enter(const struct kvs_header *h,
				      struct kvs_slot *s, bool fenced)
{
	uint64_t e = kvs_load_acquire(&h->global_epoch);

	kvs_store_relaxed(&s->epoch, e);
	if (__builtin_expect(fenced, 0))	/* the fallback: see above */
		kvs_smp_mb();
	else
		kvs_barrier();
	return e;
}

static inline void kvs_read_exit(struct kvs_slot *s)
{
	kvs_store_release(&s->epoch, 0);
}

/*
 * kvs_read_revoked_at - whether kvshmd gave up waiting for the section
 * slot @s is in, which stored @epoch (struct kvs_slot.revoked, equal to
 * the section's epoch): then memory the section read may
 * have been freed and reused, and what it read must be dropped. Call
 * inside the section, after its last load of shared data (the acquire
 * fence keeps those loads before the check: kvshmd stores revoked, then
 * fences, before it reuses anything, so a section that saw reused memory
 * sees revoked too). A slot kvshmd took back (epoch 0) is not revoked.
 */
static inline bool kvs_read_revoked_at(const struct kvs_slot *s,
				       uint64_t epoch)
{
	uint64_t rv;

	kvs_fence_acquire();
	rv = kvs_load_relaxed(&s->revoked);
	return __builtin_expect(rv == epoch, 0) && rv;
}

/* The same, where the caller did not keep kvs_read_enter()'s epoch. */
static inline bool kvs_read_revoked(const struct kvs_slot *s)
{
	return kvs_read_revoked_at(s, kvs_load_relaxed(&s->epoch));
}

int kvs_membarrier_query(void);
int kvs_membarrier_register(void);
int kvs_membarrier_global(void);

#endif /* KVS_EPOCH_H */
