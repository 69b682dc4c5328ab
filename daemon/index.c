// SPDX-License-Identifier: MIT
/*
 * daemon/index.c - mutation of the sharded hash table (see index.h).
 *
 * Placement: a key goes in the first empty entry of its home bucket or of
 * the next KVS_MAX_PROBE - 1 buckets. For every bucket a key is placed
 * past, a private counter (ovf) is raised, and while it is non-zero the
 * bucket's ent[0] carries KVS_ENT_OVF, which tells readers to keep probing.
 * The bits are set before the entry is published and cleared after it is
 * removed, so a reader never stops short of a published key.
 *
 * Growth: at 80% load, or when no entry is free within the probe window,
 * the shard's entries are rehashed into an array an eighth larger (or more:
 * an array takes every bucket its allocation chunk has room for), which is
 * then published with one release store; the old array is retired. Readers
 * that loaded the old array finish on it: it stays intact until a grace
 * period has passed. Growing by an eighth, not by doubling, keeps the
 * arrays between 71% and 80% full in steady state (8 / 0.75 = 10.7 bytes
 * of entries per key, against 8 / 0.6 = 13.3 with doubling); it costs
 * more rehashing, about 8 moves per key inserted instead of 1, each an
 * item read, which kvshmd does under the shard lock only.
 *
 * Access hints: each entry has its hint word (kvs_hint_index()). Placing
 * a key writes a fresh word before the entry is published; a replacement
 * keeps the entry and so the word; growth copies every key's word to its
 * new entry before the new array is published. Readers on the old array
 * may still update the old words, losing that update; and a reader that
 * found a key just before it was deleted may touch the entry's word after
 * a new key took the entry, which then starts with that reader's access
 * (the words are not held back for a grace period, as items are): a hint
 * skews eviction, never data. The word pages of old arrays go back to the
 * system when the heap pages under them return to the allocator's pool
 * (kva_set_release()), a grace period after their last array: one
 * madvise(2) per such page run, not one per growth (each unmaps the pages
 * from every client too, a TLB shootdown on every CPU that runs one).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "hash.h"
#include "hint.h"
#include "hints.h"
#include "index.h"
#include "log.h"

#define INITIAL_NB	2		/* buckets per shard at start */
#define LOAD_NUM	4		/* grow above 4/5 = 80% */
#define LOAD_DEN	5

struct kvd_shard {
	pthread_mutex_t lock;
	uint8_t *ovf;			/* per bucket: keys placed past it */
	uint64_t nb;			/* buckets in the current array */
	struct kvs_bucket *b;		/* current array (writable view) */
	uint64_t count;
};

/* The segment offset of shard @s's current array. */
static kvs_off_t array_off(const struct kvd_index *x, const struct kvd_shard *s)
{
	return (kvs_off_t)((const char *)s->b - x->map.base);
}

/* Keys an array of @nb buckets takes before it grows. */
static uint64_t cap_of(uint64_t nb)
{
	return nb * KVS_BUCKET_ENTRIES / LOAD_DEN * LOAD_NUM;
}

/*
 * The bucket count of an array for at least @want buckets: every bucket
 * its allocation chunk has room for (a size class or whole pages), of the
 * form barray can hold. 0 if @want is over KVS_BUCKETS_MAX.
 */
static uint64_t fit_buckets(uint64_t want)
{
	uint64_t n, room;

	if (want > KVS_BUCKETS_MAX)
		return 0;
	n = 0;
	while (want >> n >= 1ULL << KVS_BARRAY_MANT_BITS)
		n++;
	/* Round up to the form (2^14 << s is 2^13 << (s + 1): it fits). */
	n = ((want + (1ULL << n) - 1) >> n) << n;
	room = kva_chunk_size_align(n * sizeof(struct kvs_bucket),
				    KVS_CACHELINE) / sizeof(struct kvs_bucket);
	if (room > KVS_BUCKETS_MAX)
		room = KVS_BUCKETS_MAX;
	room = kvs_buckets_floor(room);
	return room > n ? room : n;
}

static struct kvs_bucket *barray_alloc(struct kvd_index *x, uint64_t nb,
				       kvs_off_t *off)
{
	size_t size = sizeof(struct kvs_bucket) * nb;
	struct kvs_bucket *b;

	*off = kva_alloc_align(x->heap, size, KVS_CACHELINE);
	if (!*off)
		return NULL;
	if (*off % KVS_CACHELINE)
		kvd_die("event=bad_array_alignment off=%llu",
			(unsigned long long)*off);
	b = (struct kvs_bucket *)(x->map.base + *off);
	memset(b, 0, size);
	return b;
}

static uint64_t nprobe_of(uint64_t nb)
{
	return nb < KVS_MAX_PROBE ? nb : KVS_MAX_PROBE;
}

/* Bucket @d places after @home in an array of @nb, wrapping at the end. */
static uint64_t bucket_at(uint64_t home, uint64_t d, uint64_t nb)
{
	uint64_t bi = home + d;

	return bi >= nb ? bi - nb : bi;
}

/*
 * Place @ent (home computed from @hash) into array @b of @nb buckets at
 * segment offset @boff, whose private counters are @ovf, with access-hint
 * word @word (stored before the entry is published; not if @h is NULL).
 * Set *@where to the entry's number. Return 0 or -ENOSPC (window full).
 */
static int place(struct kvs_bucket *b, kvs_off_t boff, uint8_t *ovf,
		 uint64_t nb, uint64_t hash, uint64_t ent,
		 const struct kvd_hints *h, uint32_t word, uint64_t *where)
{
	uint64_t home = kvs_hash_bucket(hash, nb);
	uint64_t d, j, n = nprobe_of(nb);
	unsigned int i;

	for (d = 0; d < n; d++) {
		uint64_t bi = bucket_at(home, d, nb);
		struct kvs_bucket *bk = &b[bi];

		for (i = 0; i < KVS_BUCKET_ENTRIES; i++) {
			uint64_t old = bk->ent[i];
			uint32_t *w;

			if (kvs_ent_off(old))
				continue;
			if ((w = kvd_hint_at(h, kvs_hint_index(boff, bi, i))))
				kvs_store_relaxed(w, word);
			*where = bi * KVS_BUCKET_ENTRIES + i;
			for (j = 0; j < d; j++) {
				uint64_t pj = bucket_at(home, j, nb);
				struct kvs_bucket *pb = &b[pj];

				if (ovf[pj]++ == 0)
					kvs_store_release(&pb->ent[0],
						pb->ent[0] | KVS_ENT_OVF);
			}
			kvs_store_release(&bk->ent[i], ent | (old & KVS_ENT_OVF));
			return 0;
		}
	}
	return -ENOSPC;
}

/* Undo the ovf counts of a key at bucket @bi whose home is from @hash. */
static void unplace(struct kvs_bucket *b, uint8_t *ovf, uint64_t nb,
		    uint64_t hash, uint64_t bi)
{
	uint64_t home = kvs_hash_bucket(hash, nb);
	uint64_t j, d = bi >= home ? bi - home : bi + nb - home;

	for (j = 0; j < d; j++) {
		uint64_t pj = bucket_at(home, j, nb);
		struct kvs_bucket *pb = &b[pj];

		if (--ovf[pj] == 0)
			kvs_store_release(&pb->ent[0], pb->ent[0] & ~KVS_ENT_OVF);
	}
}

/*
 * Fill @r from entry @e, at bucket @bi, slot @i of shard @s's current
 * array, with the entry's hint index. An entry kvshmd published always
 * names a whole item: anything else is a bug, not bad input.
 */
static void entry_ref(struct kvd_index *x, const struct kvd_shard *s,
		      uint64_t bi, unsigned int i, uint64_t e,
		      struct kvs_iref *r)
{
	if (kvs_item_ref(&x->map, e, r))
		kvd_die("event=bad_entry ent=%llx", (unsigned long long)e);
	r->hint = kvs_hint_index(array_off(x, s), bi, i);
}

static uint64_t item_hash(struct kvd_index *x, uint64_t ent)
{
	struct kvs_iref r;

	if (kvs_item_ref(&x->map, ent, &r))
		kvd_die("event=bad_entry ent=%llx", (unsigned long long)ent);
	return kvs_hash(x->hdr->hash_seed, r.key, r.klen);
}

/*
 * The buckets to ask for when an array of @nb grows to at least @min_nb:
 * an eighth more, capped at KVS_BUCKETS_MAX (over it only if @min_nb is,
 * which fit_buckets() then refuses).
 */
static uint64_t grow_want(uint64_t nb, uint64_t min_nb)
{
	uint64_t want = nb + (nb / 8 ? nb / 8 : 1);

	if (want > KVS_BUCKETS_MAX)
		want = nb < KVS_BUCKETS_MAX ? KVS_BUCKETS_MAX : nb + 1;
	return min_nb > want ? min_nb : want;
}

/*
 * Replace shard @si's bucket array by a larger one, of at least @min_nb
 * buckets.
 */
static int grow_to(struct kvd_index *x, uint32_t si, uint64_t min_nb)
{
	struct kvd_shard *s = &x->priv[si];
	uint64_t want = grow_want(s->nb, min_nb);
	uint64_t bi, nb = 0, where;
	struct kvs_bucket *b = NULL;
	kvs_off_t noff, ooff = array_off(x, s);
	kvd_rehash_fn on_rehash = __atomic_load_n(&x->on_rehash,
						  __ATOMIC_ACQUIRE);
	uint32_t *moved = NULL;
	uint8_t *novf = NULL;

	if (on_rehash) {	/* SIEVE names keys by entry: it must be told */
		moved = malloc(s->nb * KVS_BUCKET_ENTRIES * sizeof(*moved));
		if (!moved)
			return -ENOMEM;
	}
	for (;;) {
		unsigned int i;
		int rc = 0;

		nb = fit_buckets(want);
		if (nb)
			novf = calloc(nb, 1);
		if (!nb || !novf) {
			free(moved);
			return -ENOMEM;
		}
		b = barray_alloc(x, nb, &noff);
		if (!b) {
			free(novf);
			free(moved);
			/* What kva_alloc_align() falls back to: whole pages. */
			__atomic_store_n(&x->grow_need, kva_chunk_size(
				nb * sizeof(struct kvs_bucket)), __ATOMIC_RELAXED);
			return -ENOMEM;
		}
		for (bi = 0; bi < s->nb && rc == 0; bi++) {
			for (i = 0; i < KVS_BUCKET_ENTRIES && rc == 0; i++) {
				uint64_t e = s->b[bi].ent[i] & ~KVS_ENT_OVF;
				uint64_t n = bi * KVS_BUCKET_ENTRIES + i;
				uint32_t *w, word = 0;

				if (moved)
					moved[n] = KVD_NO_ENTRY;
				if (!kvs_ent_off(e))
					continue;
				/* The key's access history moves with it. */
				if ((w = kvd_hint_at(x->hints, kvs_hint_index(
						ooff, bi, i))))
					word = kvs_load_relaxed(w);
				rc = place(b, noff, novf, nb, item_hash(x, e), e,
					   x->hints, word, &where);
				if (moved && rc == 0)
					moved[n] = (uint32_t)where;
			}
		}
		if (rc == 0)
			break;
		/* Pathological clustering: try a larger array still. */
		kva_free(x->heap, noff);	/* never published */
		free(novf);
		novf = NULL;
		want = grow_want(nb, 0);
	}
	if (moved)
		on_rehash(x->rehash_arg, si, moved, s->nb * KVS_BUCKET_ENTRIES,
			  nb * KVS_BUCKET_ENTRIES);
	free(moved);
	kvs_store_release(&x->shards[si].barray, kvs_barray_make(noff, nb));
	kvd_retire(x->rc, ooff);
	__atomic_add_fetch(&x->entries, (nb - s->nb) * KVS_BUCKET_ENTRIES,
			   __ATOMIC_RELAXED);
	free(s->ovf);
	s->ovf = novf;
	s->b = b;
	s->nb = nb;
	return 0;
}

int kvd_index_init(struct kvd_index *x, char *base, uint64_t size,
		   struct kva *heap, struct kvd_reclaim *rc)
{
	uint32_t i;

	kvs_map_set(&x->map, base, size);
	x->hdr = (struct kvs_header *)base;
	x->shards = (struct kvs_shard *)(base + x->hdr->shards_off);
	x->nshards = x->hdr->nshards;
	x->heap = heap;
	x->rc = rc;
	x->priv = calloc(x->nshards, sizeof(*x->priv));
	if (!x->priv)
		return -ENOMEM;
	for (i = 0; i < x->nshards; i++) {
		struct kvd_shard *s = &x->priv[i];
		kvs_off_t off;

		pthread_mutex_init(&s->lock, NULL);
		s->nb = INITIAL_NB;
		s->ovf = calloc(INITIAL_NB, 1);
		s->b = barray_alloc(x, INITIAL_NB, &off);
		if (!s->ovf || !s->b) {
			x->nshards = i + 1;
			kvd_index_destroy(x);
			return -ENOMEM;
		}
		kvs_store_release(&x->shards[i].barray,
				  kvs_barray_make(off, INITIAL_NB));
		x->entries += INITIAL_NB * KVS_BUCKET_ENTRIES;
	}
	return 0;
}

void kvd_index_destroy(struct kvd_index *x)
{
	uint32_t i;

	if (!x->priv)
		return;
	for (i = 0; i < x->nshards; i++) {
		pthread_mutex_destroy(&x->priv[i].lock);
		free(x->priv[i].ovf);
	}
	free(x->priv);
	x->priv = NULL;
}

uint32_t kvd_index_shard(const struct kvd_index *x, uint64_t hash)
{
	return kvs_hash_shard(hash, x->hdr->shard_bits);
}

void kvd_index_lock(struct kvd_index *x, uint32_t shard)
{
	pthread_mutex_lock(&x->priv[shard].lock);
}

void kvd_index_unlock(struct kvd_index *x, uint32_t shard)
{
	pthread_mutex_unlock(&x->priv[shard].lock);
}

bool kvd_index_find(struct kvd_index *x, uint64_t hash, const void *key,
		    size_t klen, struct kvs_pos *pos, struct kvs_iref *r)
{
	return kvs_lookup(&x->map, hash, key, klen, pos, r);
}

static int grow(struct kvd_index *x, uint32_t si)
{
	return grow_to(x, si, 0);
}

bool kvd_index_find_item(struct kvd_index *x, uint64_t hash, kvs_off_t off,
			 struct kvs_pos *pos, struct kvs_iref *r)
{
	struct kvd_shard *s = &x->priv[kvd_index_shard(x, hash)];
	uint64_t home = kvs_hash_bucket(hash, s->nb);
	uint64_t d, n = nprobe_of(s->nb);
	uint16_t tag = kvs_hash_tag(hash);
	unsigned int i;

	for (d = 0; d < n; d++) {
		uint64_t bi = bucket_at(home, d, s->nb);
		const struct kvs_bucket *bk = &s->b[bi];

		for (i = 0; i < KVS_BUCKET_ENTRIES; i++) {
			uint64_t e = bk->ent[i];

			if (kvs_ent_tag(e) != tag || kvs_ent_off(e) != off ||
			    !off)
				continue;
			entry_ref(x, s, bi, i, e, r);
			pos->bucket = bi;
			pos->slot = i;
			pos->ent = e;
			return true;
		}
		if (!(bk->ent[0] & KVS_ENT_OVF))
			break;
	}
	return false;
}

int kvd_index_walk(struct kvd_index *x, uint32_t si, uint64_t from,
		   uint64_t n, kvd_walk_fn fn, void *arg)
{
	struct kvd_shard *s = &x->priv[si];
	uint64_t k, bi = from % s->nb;
	unsigned int i;
	int rc;

	if (n > s->nb)
		n = s->nb;
	for (k = 0; k < n; k++, bi = bi + 1 == s->nb ? 0 : bi + 1) {

		for (i = 0; i < KVS_BUCKET_ENTRIES; i++) {
			uint64_t e = s->b[bi].ent[i];
			struct kvs_iref r;
			struct kvs_pos pos = { .bucket = bi, .slot = i, .ent = e };

			if (!kvs_ent_off(e))
				continue;
			entry_ref(x, s, bi, i, e, &r);
			rc = fn(arg, kvs_hash(x->hdr->hash_seed, r.key, r.klen),
				&pos, &r);
			if (rc)
				return rc;
		}
	}
	return 0;
}

uint64_t kvd_index_nbuckets(struct kvd_index *x, uint32_t si)
{
	return x->priv[si].nb;
}

uint64_t kvd_index_entries(struct kvd_index *x, uint32_t si)
{
	return x->priv[si].nb * KVS_BUCKET_ENTRIES;
}

bool kvd_index_at(struct kvd_index *x, uint32_t si, uint64_t n,
		  uint64_t *hash, struct kvs_pos *pos, struct kvs_iref *r)
{
	struct kvd_shard *s = &x->priv[si];
	uint64_t bi = n / KVS_BUCKET_ENTRIES, e;
	unsigned int i = (unsigned int)(n % KVS_BUCKET_ENTRIES);

	if (bi >= s->nb)
		return false;
	e = s->b[bi].ent[i];
	if (!kvs_ent_off(e))
		return false;
	entry_ref(x, s, bi, i, e, r);
	*hash = kvs_hash(x->hdr->hash_seed, r->key, r->klen);
	pos->bucket = bi;
	pos->slot = i;
	pos->ent = e;
	return true;
}

uint32_t *kvd_index_hint(struct kvd_index *x, uint32_t si, uint64_t n)
{
	struct kvd_shard *s = &x->priv[si];

	if (n >= s->nb * KVS_BUCKET_ENTRIES)
		return NULL;
	return kvd_hint_at(x->hints, kvs_hint_index(array_off(x, s),
			   n / KVS_BUCKET_ENTRIES,
			   (unsigned int)(n % KVS_BUCKET_ENTRIES)));
}

uint64_t kvd_index_shard_count(struct kvd_index *x, uint32_t si)
{
	return x->priv[si].count;
}

/* The bucket count shard @si needs for @extra more keys; 0: it has it. */
static uint64_t reserve_nb(struct kvd_index *x, uint32_t si, uint64_t extra)
{
	struct kvd_shard *s = &x->priv[si];
	uint64_t keys = s->count + extra, nb;

	if (keys <= cap_of(s->nb))
		return 0;
	if (extra > cap_of(KVS_BUCKETS_MAX) || keys > cap_of(KVS_BUCKETS_MAX))
		return UINT64_MAX;		/* more than a shard can hold */
	nb = (keys * LOAD_DEN + LOAD_NUM * KVS_BUCKET_ENTRIES - 1) /
	     (LOAD_NUM * KVS_BUCKET_ENTRIES);
	while (cap_of(nb) < keys)	/* cap_of() rounds down */
		nb++;
	return nb;			/* > s->nb: cap_of() grows with it */
}

int kvd_index_reserve(struct kvd_index *x, uint32_t si, uint64_t extra)
{
	uint64_t nb = reserve_nb(x, si, extra);

	/* One new array of the final size, not one per step of growth. */
	return nb ? grow_to(x, si, nb) : 0;
}

uint64_t kvd_index_reserve_bytes(struct kvd_index *x, uint32_t si,
				 uint64_t extra)
{
	uint64_t nb = reserve_nb(x, si, extra);

	if (!nb)
		return 0;
	nb = fit_buckets(grow_want(x->priv[si].nb, nb));
	return kva_chunk_size_align(nb * sizeof(struct kvs_bucket),
				    KVS_CACHELINE);
}

/*
 * Place the item at @item_off in shard @si, with a fresh access-hint word
 * (written before the entry that publishes it).
 */
static int insert_at(struct kvd_index *x, uint32_t si, uint64_t hash,
		     kvs_off_t item_off)
{
	struct kvd_shard *s = &x->priv[si];
	uint64_t ent = kvs_ent_make(kvs_hash_tag(hash), item_off), where;
	uint32_t word = kvs_hint_make(KVS_HINT_FREQ_INIT,
				      kvs_load_relaxed(&x->hdr->clock_tick));
	int rc = 0, tries;

	/*
	 * Past 80% load the array grows first. If it cannot while the heap
	 * is held (a revoked reader: no page can be had, and eviction makes
	 * none, see kvd_reclaim_revoked()), the key still goes into the
	 * array it has when its probe window has room: a write the cache
	 * has room for does not fail for growth that can wait. Otherwise a
	 * failed growth fails the write, so that eviction makes room for the
	 * new array (kvd_index_take_grow_need()) and shards stay at <= 80%.
	 */
	if (s->count + 1 > cap_of(s->nb) && grow(x, si) < 0 &&
	    !kva_held(x->heap))
		return -ENOMEM;
	/*
	 * No free entry within the probe window below 80% load: a cluster.
	 * Deletions leave keys displaced past their home, so under churn
	 * clusters lengthen: at 80% load a window of 16 buckets filled about
	 * once in 6,600 replacements of a key in a simulation, one of 32
	 * (KVS_MAX_PROBE) once in 500,000. Rehashing into a new array places
	 * every key afresh (at most 9 buckets from home in the simulation),
	 * and an eighth more room makes the next time rarer still. Doubling
	 * would need 8x the memory at once, which a full cache may not find.
	 */
	for (tries = 0; tries < 4; tries++) {
		rc = place(s->b, array_off(x, s), s->ovf, s->nb, hash, ent,
			   x->hints, word, &where);
		if (rc == 0 || grow(x, si) < 0)
			break;
	}
	if (rc)
		return -ENOMEM;
	s->count++;
	kvs_store_relaxed(&x->shards[si].count, s->count);
	return 0;
}

int kvd_index_insert(struct kvd_index *x, uint64_t hash, kvs_off_t item_off)
{
	if (!kvd_index_room(x, 1) ||
	    insert_at(x, kvd_index_shard(x, hash), hash, item_off) < 0)
		return -ENOMEM;
	__atomic_add_fetch(&x->total, 1, __ATOMIC_RELAXED);
	return 0;
}

int kvd_index_insert_loaded(struct kvd_index *x, uint64_t hash,
			    kvs_off_t item_off)
{
	return insert_at(x, kvd_index_shard(x, hash), hash, item_off);
}

uint64_t kvd_index_take_grow_need(struct kvd_index *x)
{
	return __atomic_exchange_n(&x->grow_need, 0, __ATOMIC_RELAXED);
}

void kvd_index_add_total(struct kvd_index *x, uint64_t n)
{
	__atomic_add_fetch(&x->total, n, __ATOMIC_RELAXED);
}

void kvd_index_replace(struct kvd_index *x, uint64_t hash,
		       const struct kvs_pos *pos, kvs_off_t item_off)
{
	struct kvd_shard *s = &x->priv[kvd_index_shard(x, hash)];
	uint64_t *e = &s->b[pos->bucket].ent[pos->slot];
	uint64_t old = *e;

	/* Same entry: the key keeps its access-hint word and history. */
	kvs_store_release(e, kvs_ent_make(kvs_hash_tag(hash), item_off) |
			  (old & KVS_ENT_OVF));
	kvd_retire(x->rc, kvs_ent_off(old));
}

void kvd_index_remove(struct kvd_index *x, uint64_t hash,
		      const struct kvs_pos *pos)
{
	uint32_t si = kvd_index_shard(x, hash);
	struct kvd_shard *s = &x->priv[si];
	uint64_t *e = &s->b[pos->bucket].ent[pos->slot];
	uint64_t old = *e;

	kvs_store_release(e, old & KVS_ENT_OVF);
	unplace(s->b, s->ovf, s->nb, hash, pos->bucket);
	kvd_retire(x->rc, kvs_ent_off(old));
	s->count--;
	kvs_store_relaxed(&x->shards[si].count, s->count);
	__atomic_sub_fetch(&x->total, 1, __ATOMIC_RELAXED);
}

uint64_t kvd_index_clear(struct kvd_index *x, uint32_t si)
{
	struct kvd_shard *s = &x->priv[si];
	uint64_t bi, n = 0, nb = s->nb;
	unsigned int i;

	for (bi = 0; bi < nb; bi++) {
		for (i = 0; i < KVS_BUCKET_ENTRIES; i++) {
			uint64_t e = s->b[bi].ent[i];

			if (!kvs_ent_off(e))
				continue;
			/* Keep ovf in ent[0] until the counters say so. */
			kvs_store_release(&s->b[bi].ent[i], e & KVS_ENT_OVF);
			kvd_retire(x->rc, kvs_ent_off(e));
			n++;
		}
	}
	/* Every key is gone: no bucket is passed by any key any more. */
	for (bi = 0; bi < nb; bi++) {
		s->ovf[bi] = 0;
		kvs_store_release(&s->b[bi].ent[0], s->b[bi].ent[0] & ~KVS_ENT_OVF);
	}
	s->count = 0;
	kvs_store_relaxed(&x->shards[si].count, 0);
	__atomic_sub_fetch(&x->total, n, __ATOMIC_RELAXED);
	return n;
}

bool kvd_index_room(struct kvd_index *x, uint64_t extra)
{
	return x->max_entries == 0 ||
	       kvd_index_count(x) + extra <= x->max_entries;
}

uint64_t kvd_index_entries_total(struct kvd_index *x)
{
	return __atomic_load_n(&x->entries, __ATOMIC_RELAXED);
}

uint64_t kvd_index_count(struct kvd_index *x)
{
	return __atomic_load_n(&x->total, __ATOMIC_RELAXED);
}
