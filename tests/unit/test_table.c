// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_table.c - the hash table in one process: kvshmd's
 * insert/replace/remove/grow (daemon/index.c) checked through the readers'
 * lookup (shm/table.c), on a segment in private memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hash.h"
#include "kvshmd.h"
#include "table.h"
#include "../tap.h"

#define NKEYS	20000

static struct kvd_config cfg = {
	.memory = 32U << 20, .nshards = 4, .max_key = 1024,
	.max_value = 1 << 20, .max_readers = 16, .socket_path = "/nowhere",
};
static char *base, *rw;
static struct kvs_header *hdr;
static struct kva *heap;
static struct kvd_reclaim *rc;
static struct kvd_index x;

static kvs_off_t make_item(const char *key, const char *val)
{
	size_t klen = strlen(key), vlen = strlen(val);
	kvs_off_t off = kva_alloc(heap, kvs_item_size(klen, vlen, 0));
	struct kvs_item *it = (struct kvs_item *)(base + off);

	if (!off)
		bail_out("heap full");
	memset(it, 0, sizeof(*it));
	it->klen = (uint16_t)klen;
	it->vlen_flags = (uint32_t)vlen;
	memcpy((char *)(it + 1), key, klen);
	memcpy((char *)(it + 1) + klen, val, vlen);
	return off;
}

static uint64_t hash_of(const char *key)
{
	return kvs_hash(hdr->hash_seed, key, strlen(key));
}

static int quick_served, quick_bad;	/* kvs_lookup_quick() in get() */

/*
 * Reader-side lookup, as a client does it; keys of 9 to 16 bytes also
 * through kvs_lookup_quick(), which must agree with kvs_lookup() whenever
 * it answers (counted in quick_served and quick_bad).
 */
static const char *get(const char *key, char *buf)
{
	size_t klen = strlen(key);
	struct kvs_iref r, q = { 0 };
	struct kvs_pos pos;
	bool hit;
	int qi = KVS_LOOKUP_FURTHER;

	if (klen >= 9 && klen <= 16)
		qi = kvs_lookup_quick(&x.map, hash_of(key), key, klen, &q,
				      klen & 1);
	hit = kvs_lookup(&x.map, hash_of(key), key, klen, &pos, &r);
	if (qi != KVS_LOOKUP_FURTHER) {
		quick_served++;
		if (qi == KVS_LOOKUP_ABSENT ? hit :
		    !hit || (unsigned int)qi != pos.slot || q.val != r.val ||
		    q.vlen != r.vlen || q.hint != r.hint)
			quick_bad++;
	}
	if (!hit)
		return NULL;
	memcpy(buf, r.val, r.vlen);
	buf[r.vlen] = '\0';
	return buf;
}

static void set(const char *key, const char *val)
{
	uint64_t h = hash_of(key);
	uint32_t s = kvd_index_shard(&x, h);
	struct kvs_iref r;
	struct kvs_pos pos;

	kvd_index_lock(&x, s);
	if (kvd_index_find(&x, h, key, strlen(key), &pos, &r))
		kvd_index_replace(&x, h, &pos, make_item(key, val));
	else if (kvd_index_insert(&x, h, make_item(key, val)))
		bail_out("insert failed");
	kvd_index_unlock(&x, s);
}

static int del(const char *key)
{
	uint64_t h = hash_of(key);
	uint32_t s = kvd_index_shard(&x, h);
	struct kvs_iref r;
	struct kvs_pos pos;
	int found;

	kvd_index_lock(&x, s);
	found = kvd_index_find(&x, h, key, strlen(key), &pos, &r);
	if (found)
		kvd_index_remove(&x, h, &pos);
	kvd_index_unlock(&x, s);
	return found;
}

/*
 * Lookups on a segment of garbage: 256 KiB, mapped right before a page
 * that cannot be read (so any read past it faults, in every build), with
 * a header naming
 * 4 shards and everything after it random, offsets and tags biased to
 * land in the segment and match, so that lookups get as far as comparing
 * keys. A reader must never read outside the segment, and whatever a
 * lookup returns must lie in it. Keys of 1 to 4 bytes go through
 * kvs_lookup(), keys of 9 to 12 through kvs_lookup_quick() too, whose
 * finds must be kvs_lookup()'s. Returns the lookups whose result does
 * not; *@found counts those that found something.
 */
static int hostile_errors(int *found)
{
	const uint64_t size = 256 << 10;
	uint64_t r = 0x2545f4914f6cdd1dULL, w, *words;
	char *seg = mmap(NULL, size + 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), key[12];
	struct kvs_header *sh = (struct kvs_header *)(void *)seg;
	struct kvs_map m;
	int round, k, bad = 0;
	size_t i, nw, klen;

	if (seg == MAP_FAILED || mprotect(seg + size, 4096, PROT_NONE))
		bail_out("mmap: %s", strerror(errno));
	sh->shard_bits = 2;
	sh->nshards = 4;
	sh->shards_off = sizeof(*sh);
	kvs_map_set(&m, seg, size);
	if (m.nshards != 4)
		bail_out("hostile segment not taken");
	words = (uint64_t *)(void *)(seg + sh->shards_off);
	nw = (size - sh->shards_off) / 8;
	for (round = 0; round < 400; round++) {
		uint16_t tag = (uint16_t)(1 + round * 7919);

		for (i = 0; i < nw; i++) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			switch (r % 8) {
			case 0:
			case 1:		/* an entry with the tag, in range */
				w = ((uint64_t)tag << KVS_ENT_TAG_SHIFT) |
				    ((r >> 8) % (size / 8 + 64));
				break;
			case 2:
			case 3:		/* an item header: short key and value,
					 * an expiry or not */
				w = ((r >> 8) & 0xfff) |
				    ((r >> 14) & 1) << KVS_ITEM_FLAGS_SHIFT |
				    (((r >> 19) & 1 ? 1 : 9) + (r >> 20) % 4) << 32;
				break;
			case 4:		/* an array word within the segment */
				w = (1 + (r >> 40) % 64) << KVS_BARRAY_MANT_SHIFT |
				    (((r >> 8) % size) & KVS_BARRAY_OFF_MASK) |
				    (r % 7 ? (r >> 2) % 4 : (r >> 2) % 64);
				break;
			case 5:
			case 6:		/* zeros: a key of zero bytes */
				w = 0;
				break;
			default:
				w = r;
			}
			words[i] = w;
		}
		for (k = 0; k < 500; k++) {
			struct kvs_iref ref;
			struct kvs_pos pos;
			uint64_t h;

			struct kvs_iref q;
			int qi = KVS_LOOKUP_FURTHER;

			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			klen = (r >> 32) & 1 ? 9 + r % 4 : 1 + r % 4;
			memset(key, 0, klen);
			h = (r & ~0xffffULL) | tag;
			if (klen >= 9)
				qi = kvs_lookup_quick(&m, h, key, klen, &q,
						      klen & 1);
			if (!kvs_lookup(&m, h, key, klen, &pos, &ref)) {
				if (qi >= 0)
					bad++;	/* quick found what is not */
				continue;
			}
			(*found)++;
			if (ref.key < seg || ref.val < ref.key ||
			    ref.val + ref.vlen > seg + size ||
			    ref.hint >= size / 8)
				bad++;
			if (qi == KVS_LOOKUP_ABSENT)
				bad++;	/* quick missed what is there */
			if (qi >= 0 && ((unsigned int)qi != pos.slot ||
					q.val != ref.val || q.vlen != ref.vlen ||
					q.hint != ref.hint))
				bad++;
		}
	}
	munmap(seg, size + 4096);
	return bad;
}

/* Shard 0's next key "held:N" from *@n on, made into an item. */
static kvs_off_t shard0_item(int *n, char *key, size_t cap, uint64_t *h)
{
	do {
		snprintf(key, cap, "held:%d", (*n)++);
		*h = hash_of(key);
	} while (kvd_index_shard(&x, *h) != 0);
	return make_item(key, "v");
}

/*
 * A shard at its growth threshold when no new array can be had: while
 * the heap is held (a revoked reader), the key goes into the array the
 * shard has; otherwise the insert fails, so that eviction makes room for
 * the new array.
 */
static void held_insert(void)
{
	uint64_t nb = kvd_index_nbuckets(&x, 0), h, h2;
	kvs_off_t off, off2;
	char key[32], key2[32], buf[8];
	size_t sz;
	int n = 0, rc1, rc2;

	/* Up to the threshold (80% of the entries), without growing. */
	while (kvd_index_shard_count(&x, 0) < nb * KVS_BUCKET_ENTRIES / 5 * 4) {
		off = shard0_item(&n, key, sizeof(key), &h);
		kvd_index_lock(&x, 0);
		if (kvd_index_insert(&x, h, off))
			bail_out("insert failed");
		kvd_index_unlock(&x, 0);
	}
	off = shard0_item(&n, key, sizeof(key), &h);
	off2 = shard0_item(&n, key2, sizeof(key2), &h2);
	/* Nothing left for an array (or an item) of any size. */
	for (sz = 1U << 24; sz >= 8; sz /= 2) {
		while (kva_alloc_align(heap, sz, KVS_CACHELINE))
			;
		while (kva_alloc(heap, sz))
			;
	}
	kva_hold(heap, true);
	kvd_index_lock(&x, 0);
	rc1 = kvd_index_insert(&x, h, off);
	kvd_index_unlock(&x, 0);
	kva_hold(heap, false);
	kvd_index_lock(&x, 0);
	rc2 = kvd_index_insert(&x, h2, off2);
	kvd_index_unlock(&x, 0);
	ok(nb > 0 && kvd_index_nbuckets(&x, 0) == nb && rc1 == 0 &&
	   get(key, buf) && strcmp(buf, "v") == 0,
	   "while the heap is held, a shard at its growth threshold that "
	   "cannot grow still takes a key (%llu buckets)",
	   (unsigned long long)nb);
	ok(rc2 == -ENOMEM && !get(key2, buf) && kvd_index_nbuckets(&x, 0) == nb,
	   "not held, the same insert fails for want of the new array");
}

/*
 * kvs_bucket_match() (vector or scalar) against entry-by-entry compares,
 * on buckets where a random subset of the entries carries the tag and the
 * others carry random tags and offsets, some with the tag's bits in lower
 * 16-bit lanes of the offset. Returns the number of mismatches.
 */
static int bucket_match_errors(void)
{
	uint64_t r = 0x9e3779b97f4a7c15ULL;
	struct kvs_bucket b;
	int trial, i, bad = 0;

	for (trial = 0; trial < 100000; trial++) {
		uint16_t tag;
		unsigned int want = 0;

		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		tag = (uint16_t)r;
		for (i = 0; i < KVS_BUCKET_ENTRIES; i++) {
			uint64_t e;

			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			e = (r >> 4) & ((1ULL << KVS_ENT_TAG_SHIFT) - 1);
			if (r & 1)
				e |= (uint64_t)tag << KVS_ENT_TAG_SHIFT;
			else
				e |= r & (0xffffULL << KVS_ENT_TAG_SHIFT);
			/* The tag in lower 16-bit lanes must not count. */
			if (r & 2)
				e = (e & ~(0xffffULL << 32)) | (uint64_t)tag << 32;
			if (r & 4)
				e = (e & ~0xffffULL) | tag;
			b.ent[i] = e;
			want |= (unsigned int)(kvs_ent_tag(e) == tag) << i;
		}
		if (kvs_bucket_match(&b, tag) != want)
			bad++;
	}
	return bad;
}

/*
 * barray's packing of offset and bucket count: every count of the form
 * kvshmd makes, and the largest, decode to themselves at an offset; words
 * no kvshmd writes (count 0, shift over 14, an array past the segment's
 * end) are refused. Returns the number of wrong decodings.
 */
static int barray_errors(void)
{
	static char seg[4096];
	struct kvs_map m = { .base = seg, .size = 1ULL << 40 };
	struct kvs_barray_view v;
	uint64_t n, want;
	int bad = 0;

	for (want = 1; want <= KVS_BUCKETS_MAX; want += want / 3 + 1) {
		n = kvs_buckets_floor(want);
		if (n > want || n < want - want / 8192 ||
		    kvs_buckets_floor(n) != n ||
		    kvs_barray_decode(&m, kvs_barray_make(64 * 1000, n), &v) ||
		    v.n != n || v.off != 64 * 1000)
			bad++;
	}
	if (kvs_barray_decode(&m, kvs_barray_make(1ULL << 40, KVS_BUCKETS_MAX),
			      &v) == 0)
		bad++;			/* ends past the segment */
	m.size = 1ULL << 45;
	if (kvs_barray_decode(&m, kvs_barray_make(64, KVS_BUCKETS_MAX), &v) ||
	    v.n != KVS_BUCKETS_MAX)
		bad++;
	if (kvs_barray_decode(&m, 64, &v) == 0 ||		/* count 0 */
	    kvs_barray_decode(&m, (1ULL << KVS_BARRAY_MANT_SHIFT) | 64 | 15,
			      &v) == 0)			/* shift 15 */
		bad++;
	return bad;
}

/*
 * kvs_hash_bucket() for counts that are not powers of two: always below
 * the count, in hash order, and even (each bucket of 100 gets 1% of
 * random hashes to within 20%). Returns the number of failures.
 */
static int home_errors(void)
{
	static const uint64_t counts[] = { 1, 2, 3, 7, 100, 641, 1152,
					   123456, KVS_BUCKETS_MAX };
	static unsigned int hist[100];
	uint64_t r = 0x2545f4914f6cdd1dULL, prev = 0, h;
	unsigned int c, i;
	int bad = 0;

	for (c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		for (i = 0; i < 100000; i++) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			if (kvs_hash_bucket(r, counts[c]) >= counts[c])
				bad++;
		}
		/* In order: bits 16..47 counted up give homes that never fall. */
		for (h = 0, prev = 0; h < 1ULL << 32; h += 0x10001) {
			uint64_t b = kvs_hash_bucket(h << 16, counts[c]);

			if (b < prev)
				bad++;
			prev = b;
		}
	}
	for (i = 0; i < 1000000; i++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		hist[kvs_hash_bucket(r, 100)]++;
	}
	for (i = 0; i < 100; i++)
		if (hist[i] < 8000 || hist[i] > 12000)
			bad++;
	return bad;
}

int main(void)
{
	uint64_t shards_off, heap_off, size, baseline;
	struct kva_stats st;
	struct kvs_barray_view v;
	char key[32], val[64], buf[64];
	int i, bad = 0, ovf_seen = 0;
	unsigned int b;

	plan_tests(23);
	ok(bucket_match_errors() == 0,
	   "a bucket's tag match finds exactly the entries with the tag");
	ok(barray_errors() == 0,
	   "a published array word gives back its offset and bucket count; "
	   "words kvshmd never writes are refused");
	ok(home_errors() == 0,
	   "a key's home bucket is below the count, in hash order and even, "
	   "for counts that are not powers of two");
	kvd_layout(&cfg, &shards_off, &heap_off, &size);
	base = aligned_alloc(KVA_PAGE_SIZE, size);
	rw = calloc(1, kvs_rw_size(cfg.max_readers, 0));
	if (!base || !rw)
		bail_out("no memory");
	memset(base, 0, size);
	hdr = (struct kvs_header *)base;
	kvd_header_init(hdr, &cfg, kvs_rw_size(cfg.max_readers, 0), false);
	ok(kva_init(&heap, base, hdr->heap_off, hdr->heap_size) == 0 &&
	   kvd_reclaim_init(&rc, hdr, kvs_rw_slots(rw), cfg.max_readers, heap,
			    false, 0) == 0 &&
	   kvd_index_init(&x, base, size, heap, rc) == 0,
	   "heap, reclaim and index initialise on a private segment");
	kva_get_stats(heap, &st);
	baseline = st.used;

	for (i = 0; i < NKEYS; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		snprintf(val, sizeof(val), "value-%d", i);
		set(key, val);
	}
	ok(kvd_index_count(&x) == NKEYS, "%d inserts give %d keys", NKEYS, NKEYS);
	for (i = 0; i < NKEYS; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		snprintf(val, sizeof(val), "value-%d", i);
		if (!get(key, buf) || strcmp(buf, val) != 0)
			bad++;
	}
	ok(bad == 0, "every key reads back its value after many grows");
	i = kvs_shard_array(&x.map, 0, &v);
	ok(i == 0 && v.n >= NKEYS / 4 / 8,
	   "shards grew past their initial 2 buckets (now %llu)",
	   (unsigned long long)v.n);
	for (b = 0; b < v.n; b++)
		if (v.b[b].ent[0] & KVS_ENT_OVF)
			ovf_seen = 1;
	ok(ovf_seen, "some bucket overflowed into its neighbour (probing exercised)");
	{
		uint64_t most = 0, least = UINT64_MAX, keys;
		uint32_t s;

		for (s = 0, bad = 0; s < cfg.nshards; s++) {
			double load;

			if (kvs_shard_array(&x.map, s, &v) || v.off % 64)
				bad++;
			keys = kvd_index_shard_count(&x, s);
			load = (double)keys / (double)(v.n * KVS_BUCKET_ENTRIES);
			if (load > 0.8)
				bad++;
			most = load * 1000 > most ? (uint64_t)(load * 1000) : most;
			least = load * 1000 < least ? (uint64_t)(load * 1000) : least;
		}
		ok(bad == 0, "every shard's array is 64-byte aligned and at most "
		   "80%% full (loads %.1f%%..%.1f%%)", least / 10.0, most / 10.0);
	}
	ok(get("key:-1", buf) == NULL && get("nope", buf) == NULL,
	   "absent keys are not found");

	for (i = 0; i < NKEYS; i += 2) {
		snprintf(key, sizeof(key), "key:%d", i);
		snprintf(val, sizeof(val), "new-%d", i);
		set(key, val);
	}
	bad = 0;
	for (i = 0; i < NKEYS; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		if (i % 2)
			snprintf(val, sizeof(val), "value-%d", i);
		else
			snprintf(val, sizeof(val), "new-%d", i);
		if (!get(key, buf) || strcmp(buf, val) != 0)
			bad++;
	}
	ok(bad == 0 && kvd_index_count(&x) == NKEYS,
	   "replacing half the keys changes exactly those values");

	bad = 0;
	for (i = 0; i < NKEYS; i += 3) {
		snprintf(key, sizeof(key), "key:%d", i);
		if (!del(key))
			bad++;
	}
	for (i = 0; i < NKEYS; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		if ((get(key, buf) != NULL) != (i % 3 != 0))
			bad++;
	}
	ok(bad == 0, "deleted keys vanish and the others stay findable");
	ok(!del("key:0"), "deleting an absent key reports absence");

	/*
	 * Churn near the growth threshold: one key out, another in, many
	 * times over. Deletions leave keys displaced past their home, so
	 * clusters lengthen; every key must stay findable, and a full probe
	 * window must grow the shard, never fail the insert.
	 */
	{
		static int live[NKEYS];		/* ids of the churn keys */
		int nlive = 0, j, next = 0, lost = 0;
		uint64_t rnd = 88172645463325252ULL;

		for (i = 0; i < NKEYS; i++) {	/* top the table up */
			snprintf(key, sizeof(key), "key:%d", i);
			del(key);
		}
		for (; nlive < NKEYS; nlive++) {
			snprintf(key, sizeof(key), "churn:%d", next);
			set(key, "c");
			live[nlive] = next++;
		}
		for (j = 0; j < 300000; j++) {
			rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
			i = (int)(rnd % (uint64_t)nlive);
			snprintf(key, sizeof(key), "churn:%d", live[i]);
			if (!del(key))
				lost++;
			snprintf(key, sizeof(key), "churn:%d", next);
			set(key, "c");		/* bails out if it fails */
			live[i] = next++;
		}
		for (i = 0; i < nlive; i++) {
			snprintf(key, sizeof(key), "churn:%d", live[i]);
			if (!get(key, buf) || strcmp(buf, "c") != 0 || !del(key))
				lost++;
		}
		ok(lost == 0 && kvd_index_count(&x) == 0,
		   "300,000 replacements at high load lose no key, and every "
		   "insert finds a place");
	}
	ok(kvd_index_count(&x) == 0, "deleting every key leaves the table empty");
	ovf_seen = 0;
	kvs_shard_array(&x.map, 0, &v);
	for (b = 0; b < v.n; b++)
		if (v.b[b].ent[0] & KVS_ENT_OVF)
			ovf_seen = 1;
	ok(!ovf_seen, "no overflow bit survives the last key");

	/*
	 * A reservation (what MSET and the snapshot loader make) grows a
	 * shard once, to an array that then takes every reserved key
	 * without growing again.
	 */
	{
		uint64_t before = kvd_index_nbuckets(&x, 1), after, h;
		uint32_t added = 0;
		int grew = 0, rrc;

		kvd_index_lock(&x, 1);
		rrc = kvd_index_reserve(&x, 1, 3 * NKEYS);
		after = kvd_index_nbuckets(&x, 1);
		for (i = 0, bad = 0; added < 3 * NKEYS; i++) {
			snprintf(key, sizeof(key), "rsv:%d", i);
			h = hash_of(key);
			if (kvd_index_shard(&x, h) != 1)
				continue;
			if (kvd_index_insert(&x, h, make_item(key, "r")))
				bad++;
			grew |= kvd_index_nbuckets(&x, 1) != after;
			added++;
		}
		kvd_index_unlock(&x, 1);
		ok(rrc == 0 && after > before && after * 8 * 4 / 5 >= 3 * NKEYS &&
		   !grew && bad == 0, "reserving room for %d keys grows a shard once "
		   "(%llu -> %llu buckets), and inserting them grows it no more",
		   3 * NKEYS, (unsigned long long)before,
		   (unsigned long long)after);
		for (i = 0, bad = 0; added > 0; i++) {
			snprintf(key, sizeof(key), "rsv:%d", i);
			if (kvd_index_shard(&x, hash_of(key)) != 1)
				continue;
			if (!get(key, buf) || !del(key))
				bad++;
			added--;
		}
		ok(bad == 0 && kvd_index_count(&x) == 0,
		   "every reserved-for key reads back, and deleting them empties "
		   "the table again");
	}

	kvd_reclaim_sync(rc, 5000);
	kva_get_stats(heap, &st);
	/* The grown bucket arrays stay; every item is back. */
	{
		uint64_t arrays = 0;
		uint32_t s;

		for (s = 0; s < cfg.nshards; s++) {
			kvs_shard_array(&x.map, s, &v);
			arrays += kva_chunk_size_align(v.n * sizeof(struct kvs_bucket), 64) -
				  kva_chunk_size_align(2 * sizeof(struct kvs_bucket), 64);
		}
		ok(st.used == baseline + arrays,
		   "after a grace period used memory is the baseline plus grown arrays "
		   "(%llu == %llu + %llu)", (unsigned long long)st.used,
		   (unsigned long long)baseline, (unsigned long long)arrays);
	}
	{
		int found = 0, bad = hostile_errors(&found);

		ok(bad == 0 && found > 0,
		   "200,000 lookups in a segment of biased garbage read "
		   "only inside it (%d found something)", found);
	}
	ok(quick_bad == 0 && quick_served > 0,
	   "the home-bucket lookup of kvshm_get()'s short path agrees with the "
	   "full lookup whenever it answers (%d of %d)", quick_served - quick_bad,
	   quick_served);
	held_insert();
	kvd_index_destroy(&x);
	kvd_reclaim_destroy(rc);
	kva_destroy(heap);
	free(base);
	free(rw);
	return exit_status();
}
