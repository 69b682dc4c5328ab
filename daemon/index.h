/* SPDX-License-Identifier: MIT */
/*
 * daemon/index.h - kvshmd's side of the hash table: insert, replace,
 * remove, and per-shard growth. Readers use shm/table.h and never wait.
 *
 * Every function here requires the shard's lock (kvd_index_lock()); a
 * shard's lock is taken only by daemon threads. Replaced and removed items
 * and outgrown bucket arrays are retired, freed after a grace period.
 */
#ifndef KVD_INDEX_H
#define KVD_INDEX_H

#include <pthread.h>
#include <stdint.h>

#include "alloc.h"
#include "reclaim.h"
#include "table.h"

struct kvd_shard;
struct kvd_hints;

/*
 * An entry's number in its shard's array is bucket * 8 + slot: where a key
 * sits, stable until the shard grows. kvd_rehash_fn is told, while shard
 * @shard's keys move to a new array (shard lock held, before the array is
 * published), where each went: @moved[i] is the new number of old entry i,
 * or KVD_NO_ENTRY if old entry i was empty.
 */
#define KVD_NO_ENTRY	UINT32_MAX
typedef void (*kvd_rehash_fn)(void *arg, uint32_t shard, const uint32_t *moved,
			      uint64_t old_n, uint64_t new_n);

struct kvd_index {
	struct kvs_map map;		/* read-write mapping of the segment */
	struct kvs_header *hdr;
	struct kvs_shard *shards;	/* in shared memory */
	struct kvd_shard *priv;		/* daemon-private, one per shard */
	uint32_t nshards;
	struct kva *heap;
	struct kvd_reclaim *rc;
	struct kvd_hints *hints;	/* NULL: entries get no hint word */
	kvd_rehash_fn on_rehash;	/* atomic pointer (set and cleared by
					 * the evictor, called under the shard
					 * lock); NULL: none */
	void *rehash_arg;
	uint64_t max_entries;		/* 0 = no limit */
	uint64_t total;			/* keys in all shards; atomic, since
					 * shards are locked independently */
	uint64_t entries;		/* entries in all current arrays;
					 * atomic, as total */
	uint64_t grow_need;		/* bytes of the last bucket array that
					 * found no memory, 0 = none; atomic:
					 * stored by any shard's grower, taken
					 * by kvd_index_take_grow_need() */
};

int kvd_index_init(struct kvd_index *x, char *base, uint64_t size,
		   struct kva *heap, struct kvd_reclaim *rc);
void kvd_index_destroy(struct kvd_index *x);

uint32_t kvd_index_shard(const struct kvd_index *x, uint64_t hash);
void kvd_index_lock(struct kvd_index *x, uint32_t shard);
void kvd_index_unlock(struct kvd_index *x, uint32_t shard);

/* Lookup under the shard lock; @pos says where, for replace/remove. */
bool kvd_index_find(struct kvd_index *x, uint64_t hash, const void *key,
		    size_t klen, struct kvs_pos *pos, struct kvs_iref *r);

/*
 * kvd_index_find_item - find the live entry of the key hashed @hash whose
 * item is at @off. Daemon-private indexes keep (hash, offset) instead of
 * key bytes; this says cheaply whether what they remember is still live:
 * it probes the key's window only, comparing tags, then offsets, never
 * key bytes. A stale @off may be a chunk reused for anything; it is only
 * ever compared, never read, unless found live.
 */
bool kvd_index_find_item(struct kvd_index *x, uint64_t hash, kvs_off_t off,
			 struct kvs_pos *pos, struct kvs_iref *r);

/*
 * kvd_index_at - the key in entry number @n of shard @shard (see
 * kvd_rehash_fn), with its hash; false if that entry is empty or past the
 * array.
 */
bool kvd_index_at(struct kvd_index *x, uint32_t shard, uint64_t n,
		  uint64_t *hash, struct kvs_pos *pos, struct kvs_iref *r);

/* The entry number (see kvd_rehash_fn) of the key at @pos. */
static inline uint64_t kvd_pos_entry(const struct kvs_pos *pos)
{
	return pos->bucket * KVS_BUCKET_ENTRIES + pos->slot;
}

/* Entries in shard @shard's array now: its buckets times 8. */
uint64_t kvd_index_entries(struct kvd_index *x, uint32_t shard);

/* The access-hint word of entry number @n of shard @shard; NULL if none. */
uint32_t *kvd_index_hint(struct kvd_index *x, uint32_t shard, uint64_t n);

/*
 * kvd_index_walk - call @fn for each live entry of shard @shard in buckets
 * [@from, @from + @n) (wrapping), with the key's hash, until @fn returns
 * non-zero (returned). For sampling: eviction reads a few entries from a
 * random place. Shard lock held.
 */
typedef int (*kvd_walk_fn)(void *arg, uint64_t hash, const struct kvs_pos *pos,
			   const struct kvs_iref *r);
int kvd_index_walk(struct kvd_index *x, uint32_t shard, uint64_t from,
		   uint64_t n, kvd_walk_fn fn, void *arg);

/* Buckets in shard @shard now (shard lock held). */
uint64_t kvd_index_nbuckets(struct kvd_index *x, uint32_t shard);

/* Keys in shard @shard now (shard lock held). */
uint64_t kvd_index_shard_count(struct kvd_index *x, uint32_t shard);

/*
 * kvd_index_insert - publish the item at @item_off under a key that is
 * absent (the caller checked). Grows the shard if needed.
 * Return: 0 or -ENOMEM (heap full, or max_entries keys already stored;
 * nothing published: the caller still owns the item).
 */
int kvd_index_insert(struct kvd_index *x, uint64_t hash, kvs_off_t item_off);

/*
 * kvd_index_insert_loaded - kvd_index_insert() for a loader that adds the
 * keys it inserts to the table's count itself, once per run, with
 * kvd_index_add_total() (and checked max_entries for them with
 * kvd_index_room()): loaders on several threads would otherwise meet on
 * the count's cache line once per key.
 * Return: 0 or -ENOMEM, as kvd_index_insert().
 */
int kvd_index_insert_loaded(struct kvd_index *x, uint64_t hash,
			    kvs_off_t item_off);
void kvd_index_add_total(struct kvd_index *x, uint64_t n);

/*
 * kvd_index_take_grow_need - the bytes, in whole pages, of the last bucket
 * array a shard could not allocate since the previous call, or 0; and
 * forget it. A write that failed for memory asks the evictor for that
 * much, contiguous: an array larger than 32 KiB needs adjoining pages,
 * which evicting keys here and there need not free.
 */
uint64_t kvd_index_take_grow_need(struct kvd_index *x);

/*
 * kvd_index_reserve - grow shard @shard now so that @extra more keys fit
 * under its load limit. Return: 0 or -ENOMEM.
 */
int kvd_index_reserve(struct kvd_index *x, uint32_t shard, uint64_t extra);
/* The bytes of the new array kvd_index_reserve() would take; 0 if none. */
uint64_t kvd_index_reserve_bytes(struct kvd_index *x, uint32_t shard,
				 uint64_t extra);

/* Swap the entry at @pos to @item_off (same key) and retire the old item. */
void kvd_index_replace(struct kvd_index *x, uint64_t hash,
		       const struct kvs_pos *pos, kvs_off_t item_off);

/* Clear the entry at @pos and retire its item. */
void kvd_index_remove(struct kvd_index *x, uint64_t hash,
		      const struct kvs_pos *pos);

/* Remove (retire) every key of shard @shard; return how many. */
uint64_t kvd_index_clear(struct kvd_index *x, uint32_t shard);

uint64_t kvd_index_count(struct kvd_index *x);	/* keys in all shards */
/* Entries in all shards' current arrays (each has its hint word). */
uint64_t kvd_index_entries_total(struct kvd_index *x);

/* Would @extra more keys fit under max_entries? */
bool kvd_index_room(struct kvd_index *x, uint64_t extra);

#endif /* KVD_INDEX_H */
