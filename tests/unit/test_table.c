// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_table.c - the hash table in one process: kvshmd's
 * insert/replace/remove/grow (daemon/index.c) checked through the readers'
 * lookup (shm/table.c), on a segment in private memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Reader-side lookup, as a client does it. */
static const char *get(const char *key, char *buf)
{
	struct kvs_iref r;

	if (!kvs_lookup(&x.map, hash_of(key), key, strlen(key), NULL, &r))
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

int main(void)
{
	uint64_t shards_off, heap_off, size, baseline;
	struct kva_stats st;
	struct kvs_barray_view v;
	char key[32], val[64], buf[64];
	int i, bad = 0, ovf_seen = 0;
	unsigned int b;

	plan_tests(13);
	ok(bucket_match_errors() == 0,
	   "a bucket's tag match finds exactly the entries with the tag");
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
			    false) == 0 &&
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
	ok(i == 0 && v.mask + 1 >= NKEYS / 4 / 8,
	   "shards grew past their initial 2 buckets (now %llu)",
	   (unsigned long long)(v.mask + 1));
	for (b = 0; b <= v.mask; b++)
		if (v.b[b].ent[0] & KVS_ENT_OVF)
			ovf_seen = 1;
	ok(ovf_seen, "some bucket overflowed into its neighbour (probing exercised)");
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

	for (i = 0; i < NKEYS; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		del(key);
	}
	ok(kvd_index_count(&x) == 0, "deleting every key leaves the table empty");
	ovf_seen = 0;
	kvs_shard_array(&x.map, 0, &v);
	for (b = 0; b <= v.mask; b++)
		if (v.b[b].ent[0] & KVS_ENT_OVF)
			ovf_seen = 1;
	ok(!ovf_seen, "no overflow bit survives the last key");

	kvd_reclaim_sync(rc, 5000);
	kva_get_stats(heap, &st);
	/* The grown bucket arrays stay; every item is back. */
	{
		uint64_t arrays = 0;
		uint32_t s;

		for (s = 0; s < cfg.nshards; s++) {
			kvs_shard_array(&x.map, s, &v);
			arrays += kva_chunk_size((v.mask + 1) * sizeof(struct kvs_bucket)) -
				  kva_chunk_size(2 * sizeof(struct kvs_bucket));
		}
		ok(st.used == baseline + arrays,
		   "after a grace period used memory is the baseline plus grown arrays "
		   "(%llu == %llu + %llu)", (unsigned long long)st.used,
		   (unsigned long long)baseline, (unsigned long long)arrays);
	}
	kvd_index_destroy(&x);
	kvd_reclaim_destroy(rc);
	kva_destroy(heap);
	free(base);
	free(rw);
	return exit_status();
}
