/* SPDX-License-Identifier: MIT */
/*
 * shm/table.h - lock-free lookup in the sharded hash table, used by readers
 * in any process and by kvshmd itself. Mutation is kvshmd's alone
 * (daemon/index.c); nothing here writes.
 *
 * Callers must be inside a read section (shm/epoch.h) or, in kvshmd, hold
 * the shard's lock: that is what keeps the arrays and items they see from
 * being freed under them.
 */
#ifndef KVS_TABLE_H
#define KVS_TABLE_H

#include <stdbool.h>
#include <stdint.h>
#include "layout.h"

/* A bucket array as published: pointer and mask taken from one load. */
struct kvs_barray_view {
	const struct kvs_bucket *b;
	uint64_t mask;			/* nbuckets - 1 */
	kvs_off_t off;
};

/* Where a lookup found its key (for kvshmd, which then replaces it). */
struct kvs_pos {
	uint64_t bucket;		/* index in the array */
	unsigned int slot;		/* 0..7 */
	uint64_t ent;			/* the entry word as loaded */
};

/*
 * struct kvs_iref - an item as one reader saw it: its header fields read
 * exactly once, checked against the segment bounds, and the key and value
 * pointers derived from that one reading. Callers use these fields, never
 * the item header again, so a header that changed after the check (memory
 * reused under a misbehaving reader) can never widen a copy.
 */
struct kvs_iref {
	const struct kvs_item *it;
	const char *key;
	const char *val;
	uint32_t vlen;
	uint16_t klen;
	uint8_t flags;
	int64_t expire_ms;		/* absolute, 0 = none */
};

int kvs_shard_array(const struct kvs_map *m, uint32_t shard,
		    struct kvs_barray_view *v);
int kvs_barray_decode(const struct kvs_map *m, uint64_t barray,
		      struct kvs_barray_view *v);
int kvs_item_ref(const struct kvs_map *m, uint64_t ent, struct kvs_iref *r);
bool kvs_lookup(const struct kvs_map *m, uint64_t hash, const void *key,
		size_t klen, struct kvs_pos *pos, struct kvs_iref *r);

static inline bool kvs_iref_expired(const struct kvs_iref *r, int64_t now_ms)
{
	return r->expire_ms != 0 && r->expire_ms <= now_ms;
}

#endif /* KVS_TABLE_H */
