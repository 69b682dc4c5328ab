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

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "atomic.h"
#include "hash.h"
#include "layout.h"

/* A bucket array as published: pointer and size taken from one load. */
struct kvs_barray_view {
	const struct kvs_bucket *b;
	uint64_t n;			/* buckets, 1 .. KVS_BUCKETS_MAX */
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
	uint64_t hint;			/* access-hint index (kvs_hint_index()):
					 * set by the lookups that know the
					 * entry, 0 otherwise */
	int64_t expire_ms;		/* absolute, 0 = none */
	uint64_t version;		/* see kvs_item_version(); 0 if the
					 * reading was told to skip it */
};


/*
 * The lookup is inline: it is the whole read path, and in one function
 * with its caller it is short enough for the CPU to overlap the cache
 * misses of consecutive GETs (a call per step costs about 3x the
 * throughput of a private table; measured with tools/kvshm-bench).
 *
 * A lookup loads the shard's published bucket array once (acquire), probes
 * from the key's home bucket while the bucket's ovf bit says "keep going",
 * and compares tags, then keys. Every offset found in shared memory is
 * checked against the segment before use, with one compare where its form
 * allows (kvs_bucket_at(), kvs_item_read()): a stale or corrupt word
 * sends a lookup to "not found" or to other memory of the segment, whose
 * entries and items are checked the same way, never outside it
 * (tests/unit/test_table.c runs lookups on a segment of garbage). Nothing
 * here writes to shared memory.
 */
static inline int kvs_barray_decode(const struct kvs_map *m, uint64_t barray,
		      struct kvs_barray_view *v)
{
	unsigned int s = barray & KVS_BARRAY_SHIFT_MASK;
	kvs_off_t off = barray & KVS_BARRAY_OFF_MASK;
	uint64_t n = (barray >> KVS_BARRAY_MANT_SHIFT) << s;

	if (s > KVS_BARRAY_SHIFT_MAX || n == 0)
		return -EINVAL;
	v->b = kvs_ptr(m, off, sizeof(struct kvs_bucket) * n, KVS_CACHELINE);
	if (!v->b)
		return -EINVAL;
	v->n = n;
	v->off = off;
	return 0;
}

static inline int kvs_shard_array(const struct kvs_map *m, uint32_t shard,
		    struct kvs_barray_view *v)
{
	if (shard >= m->nshards)
		return -EINVAL;
	return kvs_barray_decode(m, kvs_load_acquire(&m->shards[shard].barray),
				 v);
}

/*
 * kvs_item_read - fill @r from the item entry @ent points to; -1 if the
 * entry or the item does not fit in the segment. @version: also read the
 * item's version. A plain GET does not need it, and its two loads, which
 * the compiler must keep even when their result is unused, cost more
 * than themselves: the read path is short of registers.
 */
static inline __attribute__((always_inline)) int
kvs_item_read(const struct kvs_map *m, uint64_t ent, struct kvs_iref *r,
	      bool version)
{
	kvs_off_t off = kvs_ent_off(ent);
	const struct kvs_item *it;
	uint32_t vf;
	size_t extra;
	int64_t exp;

	/*
	 * An entry's offset is a multiple of 8 below 2^50 by its form
	 * (kvs_ent_off()), so two compares place the whole item: its
	 * header (off - 1 >= item_end also rejects 0), then, with the
	 * lengths read, its end, which cannot wrap.
	 */
	if (off - 1 >= m->item_end)
		return -1;
	it = (const struct kvs_item *)(const void *)(m->base + off);
	/* One load per field; everything below uses the loaded values. */
	vf = kvs_load_relaxed(&it->vlen_flags);
	r->vlen = vf & KVS_ITEM_VLEN_MASK;
	r->flags = (uint8_t)(vf >> KVS_ITEM_FLAGS_SHIFT);
	r->klen = kvs_load_relaxed(&it->klen);
	r->hint = 0;
	r->version = 0;
	if (version)
		r->version = kvs_item_version(kvs_load_relaxed(&it->ver_hi),
					      kvs_load_relaxed(&it->ver_lo));
	extra = kvs_item_extra(r->flags);
	if (off + kvs_item_size(r->klen, r->vlen, r->flags) > m->size)
		return -1;
	exp = 0;
	if (extra) {
		memcpy(&exp, it + 1, sizeof(exp));
		kvs_barrier();		/* keep the copy: never re-read it */
	}
	r->expire_ms = exp;
	r->it = it;
	r->key = (const char *)(it + 1) + extra;
	r->val = r->key + r->klen;
	return 0;
}

/* kvs_item_read() with the version. */
static inline int kvs_item_ref(const struct kvs_map *m, uint64_t ent,
			       struct kvs_iref *r)
{
	return kvs_item_read(m, ent, r, true);
}

/*
 * kvs_bucket_match - bit i set when entry i of @bk carries @tag.
 *
 * A filter, not a reading: with SSE2 the eight entries are compared four
 * 16-byte loads at a time, and such a load is not one atomic access. The
 * caller loads each candidate entry again, alone and with acquire, and
 * checks it; a vector load torn by a concurrent store can only cost a
 * wasted check or miss an entry that changed during the lookup, which a
 * lookup running a moment earlier or later could equally have missed.
 * About fifteen vector instructions per bucket instead of eight compares,
 * and no branch on where in the bucket the key sits (a mispredicted
 * branch per GET).
 */
static inline unsigned int kvs_bucket_match(const struct kvs_bucket *bk,
					    uint16_t tag)
{
#ifdef __SSE2__
	const __m128i *v = (const __m128i *)(const void *)bk->ent;
	__m128i want = _mm_set1_epi16((short)tag);
	__m128i e01, e23, e45, e67;

	e01 = _mm_cmpeq_epi16(_mm_load_si128(v), want);
	e23 = _mm_cmpeq_epi16(_mm_load_si128(v + 1), want);
	e45 = _mm_cmpeq_epi16(_mm_load_si128(v + 2), want);
	e67 = _mm_cmpeq_epi16(_mm_load_si128(v + 3), want);
	/*
	 * Each 8-byte entry's tag is its top 16 bits, so the sign of the
	 * entry's top 32-bit lane says whether its tag matched. Signed
	 * saturation keeps signs: packing 32-bit lanes to 16 bits leaves the
	 * signs at the odd lanes, packing those pairs again leaves entry i's
	 * in lane i, and packing to bytes puts it in byte i (and i + 8).
	 */
	e01 = _mm_packs_epi32(_mm_packs_epi32(e01, e23),
			      _mm_packs_epi32(e45, e67));
	return (unsigned int)_mm_movemask_epi8(_mm_packs_epi16(e01, e01)) &
	       0xff;
#else
	unsigned int i, bits = 0;

	for (i = 0; i < KVS_BUCKET_ENTRIES; i++)
		bits |= (unsigned int)(kvs_ent_tag(kvs_load_relaxed(
				&bk->ent[i])) == tag) << i;
	return bits;
#endif
}

/*
 * kvs_key_eq - @n bytes at @a (an item's key) equal @b's. Keys of 8 to 16
 * bytes, the common case, take two 8-byte compares instead of a call.
 */
static inline bool kvs_key_eq(const char *a, const void *b, size_t n)
{
	if (__builtin_expect(n >= 8 && n <= 16, 1)) {
		const char *c = (const char *)b;
		uint64_t a0, a1, b0, b1;

		memcpy(&a0, a, 8);
		memcpy(&b0, c, 8);
		memcpy(&a1, a + n - 8, 8);
		memcpy(&b1, c + n - 8, 8);
		return ((a0 ^ b0) | (a1 ^ b1)) == 0;
	}
	return memcmp(a, b, n) == 0;
}

/*
 * kvs_bucket_find - the slot of bucket @bk whose entry holds @key, with
 * *@ent set to that entry as loaded and @r to its item; -1 if none does.
 */
static inline __attribute__((always_inline)) int
kvs_bucket_find(const struct kvs_map *m, const struct kvs_bucket *bk,
		uint16_t tag, const void *key, size_t klen, uint64_t *ent,
		struct kvs_iref *r, bool version)
{
	unsigned int bits = kvs_bucket_match(bk, tag);

	while (bits) {
		unsigned int i = (unsigned int)__builtin_ctz(bits);
		uint64_t e = kvs_load_acquire(&bk->ent[i]);

		bits &= bits - 1;
		/* An empty entry (offset 0) fails kvs_item_ref(). */
		if (kvs_ent_tag(e) != tag || kvs_item_read(m, e, r, version) ||
		    r->klen != klen || !kvs_key_eq(r->key, key, klen))
			continue;
		*ent = e;
		return (int)i;
	}
	return -1;
}

/*
 * kvs_bucket_at - the bucket at segment offset @boff, or NULL unless it
 * lies inside the segment past offset 0. One compare: offsets of buckets
 * come from a bucket array's offset (a multiple of 64 by barray's form)
 * plus 64 per bucket, so they are aligned whatever the word said, and
 * any value, even one that wrapped, is either in the segment or refused.
 */
static inline const struct kvs_bucket *kvs_bucket_at(const struct kvs_map *m,
						     kvs_off_t boff)
{
	if (boff - 1 >= m->bucket_end)
		return NULL;
	return (const struct kvs_bucket *)(const void *)(m->base + boff);
}

/*
 * Where a lookup stands after its home bucket, for kvs_lookup_probe():
 * the shard's array (offset @aoff, @n buckets), the bucket @bi at @boff.
 */
struct kvs_probe {
	const struct kvs_bucket *bk;
	kvs_off_t aoff, boff;
	uint64_t n, bi;
};

#define KVS_LOOKUP_ABSENT	(-1)
#define KVS_LOOKUP_FURTHER	(-2)

/*
 * kvs_home - place @hash's home bucket in @p: p->bk, or NULL if the
 * shard's array word places it outside the segment (an empty map does).
 * @hint: start loading the bucket's hint words too.
 *
 * The shard's array word is not decoded with kvs_barray_decode()'s
 * checks: each bucket a lookup reads is placed by kvs_bucket_at(),
 * which is all a reader needs (a word of a count or shift kvshmd never
 * makes can only send it to some other bucket of the segment, whose
 * entries are checked like any other). Hint indexes follow from the
 * bucket's offset (kvs_hint_index_at()), so they are below size / 8.
 */
static inline __attribute__((always_inline)) void
kvs_home(const struct kvs_map *m, uint64_t hash, struct kvs_probe *p,
	 bool hint)
{
	uint64_t barray;

	/* m->shards is never NULL, and shard_shift keeps the index below
	 * nshards (or at 0 of kvs_no_shard()). */
	barray = kvs_load_acquire(
		&m->shards[(hash >> 1) >> m->shard_shift].barray);
	p->aoff = barray & KVS_BARRAY_OFF_MASK;
	p->n = (barray >> KVS_BARRAY_MANT_SHIFT) <<
	       (barray & KVS_BARRAY_SHIFT_MASK);
	p->bi = kvs_hash_bucket(hash, p->n);
	p->boff = p->aoff + p->bi * sizeof(struct kvs_bucket);
	p->bk = kvs_bucket_at(m, p->boff);
	/*
	 * Most keys sit in their home bucket, whose eight hint words share
	 * one line: start its miss now, beside the bucket's, rather than
	 * after the item's (the reader writes the word on most hits),
	 * unless @hint says the reader will not touch it.
	 */
	if (hint && p->bk && m->hints)
		__builtin_prefetch(&m->hints[kvs_hint_index_at(p->boff, 0)], 1);
}

/* Whether a key of @p's home bucket may sit past it (kvs_lookup_probe()). */
static inline bool kvs_home_overflowed(const struct kvs_probe *p)
{
	return p->n > 1 && (kvs_load_acquire(&p->bk->ent[0]) & KVS_ENT_OVF);
}

/*
 * kvs_lookup_home - look for @key (whose hash is @hash) in its home
 * bucket only: the slot it sits in, with @r filled (with the version if
 * @version, see kvs_item_read()), r->hint set and *@e the entry as
 * loaded; KVS_LOOKUP_ABSENT if it is not in @m; KVS_LOOKUP_FURTHER if it
 * may sit in a later bucket, where kvs_lookup_probe() goes on from @p.
 * @hint: as kvs_home()'s.
 */
static inline __attribute__((always_inline)) int
kvs_lookup_home(const struct kvs_map *m, uint64_t hash, const void *key,
		size_t klen, struct kvs_probe *p, uint64_t *e,
		struct kvs_iref *r, bool version, bool hint)
{
	int i;

	kvs_home(m, hash, p, hint);
	if (!p->bk)
		return KVS_LOOKUP_ABSENT;
	i = kvs_bucket_find(m, p->bk, kvs_hash_tag(hash), key, klen, e, r,
			    version);
	if (i >= 0) {
		r->hint = kvs_hint_index_at(p->boff, (unsigned int)i);
		return i;
	}
	return kvs_home_overflowed(p) ? KVS_LOOKUP_FURTHER : KVS_LOOKUP_ABSENT;
}

/*
 * kvs_lookup_quick - kvs_lookup_home() for the common case only, with
 * KVS_LOOKUP_FURTHER for anything else: the first entry of the home
 * bucket that carries @hash's tag must hold @key, in an item with no
 * optional field (no expiry), whose value is at r->val, r->vlen bytes.
 * Only r->val, r->vlen and r->hint are set. @klen must be 8 to 16.
 * @hint: whether the caller will touch the key's hint word (kvs_home()).
 */
static inline __attribute__((always_inline)) int
kvs_lookup_quick(const struct kvs_map *m, uint64_t hash, const void *key,
		 size_t klen, struct kvs_iref *r, bool hint)
{
	const struct kvs_item *it;
	struct kvs_probe p;
	unsigned int bits, i;
	kvs_off_t off;
	uint64_t e;
	uint32_t vf;

	kvs_home(m, hash, &p, hint);
	if (!p.bk)
		return KVS_LOOKUP_ABSENT;
	bits = kvs_bucket_match(p.bk, kvs_hash_tag(hash));
	if (!bits)
		return kvs_home_overflowed(&p) ? KVS_LOOKUP_FURTHER :
						 KVS_LOOKUP_ABSENT;
	i = (unsigned int)__builtin_ctz(bits);
	e = kvs_load_acquire(&p.bk->ent[i]);
	off = kvs_ent_off(e);
	/* As kvs_item_read(), with the flags required to be 0: calling
	 * it costs 24 instructions more per GET (its size check takes
	 * the expiry's flag into account first). */
	if (kvs_ent_tag(e) != kvs_hash_tag(hash) || off - 1 >= m->item_end)
		return KVS_LOOKUP_FURTHER;
	it = (const struct kvs_item *)(const void *)(m->base + off);
	vf = kvs_load_relaxed(&it->vlen_flags);
	if (kvs_load_relaxed(&it->klen) != klen ||
	    (vf & ~KVS_ITEM_VLEN_MASK) ||
	    off + kvs_item_size((uint16_t)klen, vf, 0) > m->size ||
	    !kvs_key_eq((const char *)(it + 1), key, klen))
		return KVS_LOOKUP_FURTHER;
	r->vlen = vf;
	r->val = (const char *)(it + 1) + klen;
	r->hint = kvs_hint_index_at(p.boff, i);
	return (int)i;
}

/*
 * kvs_lookup_probe - go on from where kvs_lookup_home() said
 * KVS_LOOKUP_FURTHER: the buckets after the home one, while the one
 * before says a key overflowed past it, KVS_MAX_PROBE buckets at most.
 * The same results as kvs_lookup_home().
 */
static inline int kvs_lookup_probe(const struct kvs_map *m, uint64_t hash,
				   const void *key, size_t klen,
				   struct kvs_probe *p, uint64_t *e,
				   struct kvs_iref *r, bool version)
{
	uint64_t probe, nprobe = p->n < KVS_MAX_PROBE ? p->n : KVS_MAX_PROBE;
	int i = KVS_LOOKUP_ABSENT;

	for (probe = 1; i < 0; probe++) {
		if (probe >= nprobe ||
		    !(kvs_load_acquire(&p->bk->ent[0]) & KVS_ENT_OVF))
			return KVS_LOOKUP_ABSENT;
		p->bi = p->bi + 1 == p->n ? 0 : p->bi + 1;
		p->boff = p->aoff + p->bi * sizeof(struct kvs_bucket);
		p->bk = kvs_bucket_at(m, p->boff);
		if (!p->bk)
			return KVS_LOOKUP_ABSENT;
		i = kvs_bucket_find(m, p->bk, kvs_hash_tag(hash), key, klen,
				    e, r, version);
	}
	r->hint = kvs_hint_index_at(p->boff, (unsigned int)i);
	return i;
}

/*
 * kvs_lookup_read - find @key (whose hash is @hash) in @m: fill @r (with
 * the version if @version, see kvs_item_read()) and, if @pos is not
 * NULL, where the key sits. False if it is not there. @hint: start
 * loading the home bucket's hint words (kvs_home()).
 */
static inline __attribute__((always_inline)) bool
kvs_lookup_read(const struct kvs_map *m, uint64_t hash, const void *key,
		size_t klen, struct kvs_pos *pos, struct kvs_iref *r,
		bool version, bool hint)
{
	struct kvs_probe p;
	uint64_t e;
	int i;

	i = kvs_lookup_home(m, hash, key, klen, &p, &e, r, version, hint);
	if (i == KVS_LOOKUP_FURTHER)
		i = kvs_lookup_probe(m, hash, key, klen, &p, &e, r, version);
	if (i < 0)
		return false;
	if (pos) {
		pos->bucket = p.bi;
		pos->slot = (unsigned int)i;
		pos->ent = e;
	}
	return true;
}

/* kvs_lookup_read() with the version, and no hint word to touch. */
static inline __attribute__((always_inline)) bool
kvs_lookup(const struct kvs_map *m, uint64_t hash, const void *key,
	   size_t klen, struct kvs_pos *pos, struct kvs_iref *r)
{
	return kvs_lookup_read(m, hash, key, klen, pos, r, true, false);
}

static inline bool kvs_iref_expired(const struct kvs_iref *r, int64_t now_ms)
{
	return r->expire_ms != 0 && r->expire_ms <= now_ms;
}

#endif /* KVS_TABLE_H */
