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
#include <string.h>

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

int kvs_shard_array(const struct kvs_map *m, uint32_t shard,
		    struct kvs_barray_view *v);
int kvs_barray_decode(const struct kvs_map *m, uint64_t barray,
		      struct kvs_barray_view *v);
const struct kvs_item *kvs_item_at(const struct kvs_map *m, uint64_t ent);
const struct kvs_item *kvs_lookup(const struct kvs_map *m, uint64_t hash,
				  const void *key, size_t klen,
				  struct kvs_pos *pos);

/* kvs_item_expiry - absolute expiry in ms, or 0 for none. */
static inline int64_t kvs_item_expiry(const struct kvs_item *it)
{
	int64_t exp = 0;

	if (it->flags & KVS_ITEM_EXPIRES)
		memcpy(&exp, it + 1, sizeof(exp));
	return exp;
}

static inline bool kvs_item_expired(const struct kvs_item *it, int64_t now_ms)
{
	int64_t exp = kvs_item_expiry(it);

	return exp != 0 && exp <= now_ms;
}

#endif /* KVS_TABLE_H */
