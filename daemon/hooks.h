/* SPDX-License-Identifier: MIT */
/*
 * daemon/hooks.h - the table's event hooks. exec emits one event per change
 * (set, delete, expire, evict); modules subscribe here at start-up (stats
 * today; the WAL, watchers and indexes later) instead of being called from
 * inside exec. Hooks run on the executing thread, under the shard lock:
 * they must be quick and must not take shard locks.
 */
#ifndef KVD_HOOKS_H
#define KVD_HOOKS_H

#include <stddef.h>
#include <stdint.h>

enum kvd_event {
	KVD_EV_SET,		/* a key got a new item (set, incr, expire...) */
	KVD_EV_DEL,		/* a key was deleted by a client */
	KVD_EV_EXPIRE,		/* an expired key was removed */
	KVD_EV_EVICT,		/* a key was evicted for memory */
	KVD_EV_FLUSH,		/* every key is about to be removed (the
				 * removals themselves are not emitted) */
	KVD_EV_BATCH_BEGIN,	/* the events up to KVD_EV_BATCH_END are one
				 * multi-key op, published under its shard
				 * locks: consumers keep them together (the
				 * WAL writes them as one record) */
	KVD_EV_BATCH_END,
	KVD_EV_NR,
};

struct kvd_event_info {
	enum kvd_event ev;
	const void *key;
	size_t klen;
	const void *val;	/* KVD_EV_SET: the new value */
	size_t vlen;
	int64_t expire_ms;	/* KVD_EV_SET: absolute, 0 = none */
	uint64_t version;	/* KVD_EV_SET: the new item's version */
	/*
	 * Where the change happened, for daemon-private indexes (expiry,
	 * eviction) that must find the key again later without its bytes:
	 * the key's hash, the item (KVD_EV_SET: the new one, now published;
	 * otherwise the one just removed, retired, still readable until the
	 * hook returns) and, for a removal, the entry it left: its number in
	 * its shard's array (index.h) + 1, 0 if not known.
	 */
	uint64_t hash;
	uint64_t item;
	uint64_t entry;
};

typedef void (*kvd_hook_fn)(const struct kvd_event_info *ev, void *arg);

#define KVD_MAX_HOOKS 8

struct kvd_hooks {
	struct {
		kvd_hook_fn fn;
		void *arg;
	} h[KVD_MAX_HOOKS];
	unsigned int n;
};

/* Subscribe at start-up, before any thread runs. 0 or -ENOSPC. */
int kvd_hook_add(struct kvd_hooks *hs, kvd_hook_fn fn, void *arg);
void kvd_hooks_emit(const struct kvd_hooks *hs, const struct kvd_event_info *ev);

#endif /* KVD_HOOKS_H */
