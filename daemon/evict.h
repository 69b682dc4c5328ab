/* SPDX-License-Identifier: MIT */
/*
 * daemon/evict.h - eviction: which keys leave when the heap (--memory) or
 * the key count (--max-entries) is full, chosen by a policy that can be
 * changed while the daemon runs.
 *
 * Two paths evict, both through kvd_exec_remove() (so readers are safe:
 * an evicted item is retired and freed only after a grace period) and
 * both emitting KVD_EV_EVICT:
 *  - the evictor thread keeps the heap's free bytes above a low watermark
 *    (--eviction-watermark, % of the heap), evicting until twice that is
 *    free, so most writes never wait;
 *  - a write that still cannot allocate, or that would exceed
 *    --max-entries, evicts synchronously (kvd_evict_make_room(), from
 *    exec, holding no shard lock) and is retried. --max-entries is kept
 *    exactly, by synchronous eviction only: one key out per key in.
 *
 * Policies: see enum kvd_policy and kvshmd(8). Daemon-private.
 */
#ifndef KVD_EVICT_H
#define KVD_EVICT_H

#include <stdbool.h>
#include <stdint.h>

struct kvd;
struct kvd_evict;

enum kvd_policy {
	KVD_POLICY_NOEVICTION,	/* never evict: writes fail, ENOMEM */
	KVD_POLICY_LRU,		/* sampled: oldest access (64 ms clock), then
				 * lowest counter */
	KVD_POLICY_LFU,		/* sampled: lowest decayed log counter,
				 * then oldest access */
	KVD_POLICY_RANDOM,	/* any key */
	KVD_POLICY_VOLATILE_TTL,	/* the key with the soonest expiry
					 * (exact, from the expiry index) */
	KVD_POLICY_VOLATILE_LRU,	/* as lru, among keys with a TTL */
	KVD_POLICY_VOLATILE_LFU,	/* as lfu, among keys with a TTL */
	KVD_POLICY_VOLATILE_RANDOM,	/* any key with a TTL */
	KVD_POLICY_SIEVE,	/* SIEVE over insertion order, using the
				 * readers' visited bit */
	KVD_POLICY_NR,
};

/* What a failed write needs: bytes of items, and new keys. */
struct kvd_room {
	uint64_t bytes;
	uint64_t keys;
};

/* The policy called @name, or -EINVAL. */
int kvd_policy_parse(const char *name);
const char *kvd_policy_name(enum kvd_policy p);
/* What readers leave in the access hints for policy @p: KVS_HINTS_*. */
uint32_t kvd_policy_hint_mode(enum kvd_policy p);
/* "noeviction, lru, ..." for messages. */
const char *kvd_policy_names(void);

/*
 * kvd_evict_init - eviction state for @d with the configured policy,
 * subscribed to the hooks; d->index, d->hints and d->ex must be ready.
 * kvd_evict_start() starts the evictor thread once the table is loaded.
 */
int kvd_evict_init(struct kvd_evict **ev, struct kvd *d);
int kvd_evict_start(struct kvd_evict *ev);
void kvd_evict_stop(struct kvd_evict *ev);	/* idempotent */
void kvd_evict_destroy(struct kvd_evict *ev);

/*
 * Runtime settings (any thread; serialised with eviction in progress).
 * Switching to sieve builds its queue from the table (one shard locked at
 * a time; writes go on). Return 0, -EINVAL (out of range) or -ENOMEM.
 */
int kvd_evict_set_policy(struct kvd_evict *ev, enum kvd_policy p);
enum kvd_policy kvd_evict_policy(struct kvd_evict *ev);
int kvd_evict_set_samples(struct kvd_evict *ev, uint32_t n);
uint32_t kvd_evict_samples(struct kvd_evict *ev);
int kvd_evict_set_watermark(struct kvd_evict *ev, uint32_t pct);
uint32_t kvd_evict_watermark(struct kvd_evict *ev);

/*
 * kvd_evict_make_room - evict for a write that failed for want of @need
 * (retry number @attempt, from 0: each retry evicts more). Caller holds
 * no shard lock. Return true if something was evicted and the freed
 * memory is back (worth retrying), false if the policy is noeviction or
 * found nothing to evict.
 */
bool kvd_evict_make_room(struct kvd_evict *ev, const struct kvd_room *need,
			 unsigned int attempt);

/* After an allocation: wake the evictor if free memory is below the low
 * watermark. Cheap (one relaxed load, usually). */
void kvd_evict_note_alloc(struct kvd_evict *ev);

struct kvd_evict_stats {
	uint64_t by_policy[KVD_POLICY_NR];	/* keys evicted under each */
	uint64_t sync;		/* evicted by writes that waited */
	uint64_t background;	/* evicted by the evictor thread */
	uint64_t expired;	/* expired keys met while sampling: removed
				 * as expirations, not evictions */
	uint64_t sampled;	/* keys examined to choose victims */
	uint64_t failed;	/* writes eviction could not make room for */
	uint64_t sieve_queue;	/* keys in the SIEVE queue (sieve only) */
};
void kvd_evict_get_stats(struct kvd_evict *ev, struct kvd_evict_stats *st);

#endif /* KVD_EVICT_H */
