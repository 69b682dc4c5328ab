/* SPDX-License-Identifier: MIT */
/*
 * shm/layout.h - the shared-memory layout of kvshm: segment header, shards,
 * bucket arrays, items, and the reader area (reader slots).
 *
 * Both kvshmd and libkvshm compile this. It must never hold daemon-only
 * state (allocator lists, locks, retire lists): those live in kvshmd's
 * private memory. Any change to a structure here changes the layout: bump
 * KVS_LAYOUT_VERSION (the _Static_asserts below make you notice).
 *
 * Two objects per cache NAME:
 *   /kvshm-NAME     data: written by kvshmd only, mapped PROT_READ by clients.
 *   /kvshm-NAME.rw  reader area: reader slots, written by clients (their own
 *                   slot) and kvshmd (slot release); mapped read-write.
 *
 * Every reference inside a segment is a 64-bit offset from the segment base
 * (0 = none), turned into a pointer by kvs_ptr(), which checks it: an offset
 * is data another process wrote, so it is checked, never trusted.
 *
 * Ordering vocabulary in the field comments:
 *   const    set before the segment is published (magic is stored last,
 *            with release), never changed after.
 *   release/acquire   the writer uses kvs_store_release(), readers
 *            kvs_load_acquire(), so what was written before the store is
 *            visible to a reader that sees the stored value.
 */
#ifndef KVS_LAYOUT_H
#define KVS_LAYOUT_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#define KVS_MAGIC		0x4b56534dU	/* "KVSM" */
#define KVS_RW_MAGIC		0x4b565357U	/* "KVSW" */
#define KVS_LAYOUT_VERSION	10
#define KVS_CACHELINE		64
#define KVS_NAME_MAX		64
#define KVS_SOCKPATH_MAX	108		/* sizeof(sun_path) */

typedef uint64_t kvs_off_t;	/* bytes from the segment base; 0 = none */

/* Header flags (const). */
#define KVS_HDR_MEMBARRIER	0x1	/* kvshmd issues membarrier per grace
					 * period: registered readers may use
					 * compiler barriers only */

/*
 * struct kvs_header - at offset 0 of the data segment.
 *
 * Line 0 is read by every read section (superseded) and otherwise never
 * changes after publication, so it stays in every reader's cache.
 * global_epoch has a line of its own: it changes once per grace period.
 */
/* kvs_header.superseded: why the daemon behind a segment is gone. */
#define KVS_GONE_REPLACED	1	/* a new kvshmd took the name over */
#define KVS_GONE_STOPPED	2	/* its kvshmd stopped cleanly */

struct kvs_header {
	/* line 0 */
	uint32_t magic;			/* const: KVS_MAGIC, stored last (release) */
	uint32_t layout_version;	/* const: KVS_LAYOUT_VERSION */
	uint32_t superseded;		/* KVS_GONE_*: kvshmd, 0->STOPPED
					 * release at a clean stop; a new
					 * kvshmd, 0->REPLACED release when it
					 * replaces a dead one's segment;
					 * clients: acquire at each read-section
					 * entry and before each request */
	uint32_t flags;			/* const: KVS_HDR_* */
	uint64_t generation;		/* const: random, per daemon start */
	uint64_t size;			/* const: bytes of this segment */
	uint64_t hash_seed;		/* const: XXH3 seed */
	kvs_off_t shards_off;		/* const: -> struct kvs_shard[nshards] */
	uint32_t nshards;		/* const: power of two */
	uint32_t shard_bits;		/* const: log2(nshards) */
	kvs_off_t heap_off;		/* const: items and bucket arrays */
	/* line 1 */
	uint64_t heap_size;		/* const */
	uint64_t rw_size;		/* const: bytes of the reader area */
	uint32_t nslots;		/* const: reader slots in the rw area */
	uint32_t max_key;		/* longest key accepted */
	uint32_t max_value;		/* longest value accepted */
	int32_t daemon_pid;		/* const */
	uint64_t start_time_ms;		/* const: CLOCK_REALTIME at start */
	uint64_t nhints;		/* const: access-hint words in the rw
					 * area: size / 8, one per bucket entry
					 * the segment could hold (see
					 * kvs_hint_index()) */
	uint64_t max_entries;		/* keys allowed, 0 = no limit but
					 * memory. These three limits: kvshmd
					 * may raise them (relaxed store, SIGHUP
					 * reload), never lower them, and
					 * accepts the new value before it
					 * stores it; clients: plain loads, any
					 * value seen is one the daemon takes */
	uint64_t reserved1;
	/* lines 2-3 */
	char socket_path[KVS_SOCKPATH_MAX]; /* const: NUL-terminated */
	char pad0[128 - KVS_SOCKPATH_MAX];
	/* line 4 */
	alignas(KVS_CACHELINE)
	uint64_t global_epoch;		/* kvshmd: release store per grace
					 * period (starts at 1); readers:
					 * acquire load at section entry */
	uint32_t clock_tick;		/* kvshmd's expiry thread: relaxed store
					 * of kvs_hint_ticks(CLOCK_REALTIME) at
					 * each pass (every 50 ms); readers:
					 * relaxed load on a hit, for the access
					 * hint (same line as global_epoch, which
					 * a reader loads anyway) */
	uint32_t hint_mode;		/* KVS_HINTS_*: what readers leave in
					 * the access-hint words, for kvshmd's
					 * eviction policy of the moment.
					 * kvshmd: relaxed store under the
					 * evictor's lock at each policy change,
					 * the first before the segment is
					 * published (kvd_evict_init());
					 * readers: relaxed load per GET, same
					 * line as global_epoch. Any value is
					 * safe to act on: a stale one writes a
					 * field nobody reads, or misses a few
					 * accesses */
	char pad1[KVS_CACHELINE - 16];
};
/*
 * hdr->hint_mode: what a reader's GET hit leaves in the key's hint word.
 * The values are also the stat hints_by_readers (kvshm_stats(3)).
 */
#define KVS_HINTS_NONE		0	/* nothing, and no prefetch of the
					 * word (noeviction, random,
					 * volatile-random, volatile-ttl) */
#define KVS_HINTS_ALL		1	/* time, counter and visited bit (lru,
					 * lfu, volatile-lru, volatile-lfu) */
#define KVS_HINTS_VISITED	2	/* the visited bit only (sieve) */

_Static_assert(sizeof(struct kvs_header) == 5 * KVS_CACHELINE,
	       "shared layout changed: bump KVS_LAYOUT_VERSION");

/*
 * struct kvs_shard - one shard of the hash table.
 *
 * barray packs the bucket array's offset with its bucket count, so one
 * release store publishes both and a reader can never pair an array with
 * the wrong size:
 *
 *   mant:14 | offset / 64:44 | shift:6      nbuckets = mant << shift
 *
 * Any count below 2^14 is exact; kvshmd only makes arrays whose count has
 * this form (see kvs_buckets_floor()), at most KVS_BUCKETS_MAX. Counts need
 * not be powers of two: an array is sized to its keys (daemon/index.c), and
 * a key's home bucket is its hash scaled to the count (kvs_hash_bucket()).
 */
struct kvs_shard {
	alignas(KVS_CACHELINE)
	uint64_t barray;		/* kvshmd under the shard lock: release
					 * store on grow; readers: acquire */
	uint64_t count;			/* kvshmd under the shard lock; readers:
					 * plain load, informational only */
	char pad[KVS_CACHELINE - 16];
};
_Static_assert(sizeof(struct kvs_shard) == KVS_CACHELINE, "shard is one line");

#define KVS_BARRAY_SHIFT_MASK	0x3fULL
#define KVS_BARRAY_MANT_SHIFT	50
#define KVS_BARRAY_MANT_BITS	14
#define KVS_BARRAY_OFF_MASK	(((1ULL << KVS_BARRAY_MANT_SHIFT) - 1) & \
				 ~KVS_BARRAY_SHIFT_MASK)
#define KVS_BARRAY_SHIFT_MAX	14
/* Buckets per shard: 2^31 keys at most, whose entries take 16 GiB. */
#define KVS_BUCKETS_MAX		(((1ULL << KVS_BARRAY_MANT_BITS) - 1) << \
				 KVS_BARRAY_SHIFT_MAX)

/* The largest bucket count of barray's form that is at most @n (>= 1). */
static inline uint64_t kvs_buckets_floor(uint64_t n)
{
	unsigned int s = 0;

	while (n >> s >= 1ULL << KVS_BARRAY_MANT_BITS)
		s++;
	return n >> s << s;
}

/* barray for an array of @n buckets (kvs_buckets_floor(n) == n) at @off. */
static inline uint64_t kvs_barray_make(uint64_t off, uint64_t n)
{
	unsigned int s = 0;

	while (n >> s >= 1ULL << KVS_BARRAY_MANT_BITS)
		s++;
	return (n >> s << KVS_BARRAY_MANT_SHIFT) | off | s;
}

/*
 * A bucket is one cache line of 8 entries. An entry is
 *   tag:16 | ovf:1 | off:47
 * off = item offset / 8 (0 = empty slot); tag = low 16 bits of the key's
 * hash. The ovf bit is meaningful in ent[0] only: "a key whose home is this
 * bucket, or an earlier one, lives in a later bucket: keep probing".
 *
 * Writer: kvshmd under the shard lock, one release store per entry (a new
 * item is fully written before its entry is stored). Readers: acquire load
 * of each entry, then of the item it points to.
 */
#define KVS_BUCKET_ENTRIES	8
#define KVS_MAX_PROBE		32	/* buckets a key may sit past its home
					 * (+1); the daemon's per-bucket count
					 * of keys placed past it is 8 bits:
					 * 8 * 31 = 248 fits */
#define KVS_ENT_OFF_MASK	((1ULL << 47) - 1)
#define KVS_ENT_OVF		(1ULL << 47)
#define KVS_ENT_TAG_SHIFT	48

struct kvs_bucket {
	alignas(KVS_CACHELINE)
	uint64_t ent[KVS_BUCKET_ENTRIES];
};
_Static_assert(sizeof(struct kvs_bucket) == KVS_CACHELINE, "bucket is one line");

static inline uint64_t kvs_ent_make(uint16_t tag, kvs_off_t item_off)
{
	return ((uint64_t)tag << KVS_ENT_TAG_SHIFT) | (item_off >> 3);
}

static inline kvs_off_t kvs_ent_off(uint64_t ent)
{
	return (ent & KVS_ENT_OFF_MASK) << 3;
}

static inline uint16_t kvs_ent_tag(uint64_t ent)
{
	return (uint16_t)(ent >> KVS_ENT_TAG_SHIFT);
}

/*
 * A key's access-hint word (shm/hint.h) belongs to its bucket entry, not
 * to its item: the rw area holds one word per 8 bytes of the data
 * segment, and the entries of the bucket array at segment offset @off have
 * the words at index off / 8 + bucket * 8 + slot, which shadow the array
 * at half its size: a bucket at offset @bucket_off has them from
 * bucket_off / 8. A reader finds the word from where it found the key,
 * with no load, and the line holding its home bucket's words is known
 * from the key's hash alone, so it can be fetched with the bucket; the
 * item needs no field for it.
 *
 * The word stays with the entry: a new value (same entry) keeps it;
 * kvshmd writes a fresh word before it publishes a key into an entry and
 * copies each word when a shard's keys move to a new array. Indexes are
 * below kvs_header.nhints by construction (an array lies in the segment).
 */
static inline uint64_t kvs_hint_index_at(kvs_off_t bucket_off,
					 unsigned int slot)
{
	return bucket_off / 8 + slot;
}

/* The same, for bucket @bucket of the array at @array_off. */
static inline uint64_t kvs_hint_index(kvs_off_t array_off, uint64_t bucket,
				      unsigned int slot)
{
	return kvs_hint_index_at(array_off +
				 bucket * sizeof(struct kvs_bucket), slot);
}

/*
 * struct kvs_item - an item: this header, then the optional expiry, then the
 * key, then the value. Items start 8-byte aligned and are immutable once
 * their entry is published: a change builds a new item and swaps the entry,
 * and the old one is freed only after a grace period.
 *
 * Every field is const after publication: kvshmd writes the whole item,
 * then publishes it with the release store of its bucket entry; readers
 * load each field once (relaxed, after the acquire load of the entry) into
 * a struct kvs_iref and never read the header again.
 *
 * 12 bytes: the value length and two flag bits share a word (values are at
 * most 512 MiB, so 30 bits hold any length), which leaves room for a 48-bit
 * version in the size a separate 64-bit one would take 16 for. The key's
 * access hint is not here: it belongs to the bucket entry (kvs_hint_index()).
 * Items still start 8-byte aligned (entries store offset / 8); an optional
 * expiry sits at offset 12 and is read with memcpy.
 */
#define KVS_ITEM_EXPIRES	0x01	/* int64 absolute expiry (ms since the
					 * epoch, CLOCK_REALTIME) follows the
					 * header; read it with memcpy */
#define KVS_ITEM_FLAGS_SHIFT	30
#define KVS_ITEM_VLEN_MASK	((1U << KVS_ITEM_FLAGS_SHIFT) - 1)
#define KVS_VALUE_MAX		(512U << 20)	/* largest value, bytes */
#define KVS_VERSION_BITS	48
#define KVS_VERSION_MAX		((1ULL << KVS_VERSION_BITS) - 1)

struct kvs_item {
	uint32_t vlen_flags;		/* const: value length (low 30 bits),
					 * KVS_ITEM_* flags (top 2 bits) */
	uint16_t klen;			/* const */
	uint16_t ver_hi;		/* const: version bits 32..47 */
	uint32_t ver_lo;		/* const: version bits 0..31 */
};
_Static_assert(sizeof(struct kvs_item) == 12, "item header is 12 bytes");
_Static_assert(KVS_VALUE_MAX <= KVS_ITEM_VLEN_MASK, "vlen fits its bits");

/*
 * The item's version: unique per write, increasing in write order and
 * across restarts (kvshmd restores its counter from the WAL and
 * snapshots). Compare-and-set and GET-with-metadata report it.
 */
static inline uint64_t kvs_item_version(uint16_t hi, uint32_t lo)
{
	return ((uint64_t)hi << 32) | lo;
}

static inline size_t kvs_item_extra(unsigned int flags)
{
	return (flags & KVS_ITEM_EXPIRES) ? 8 : 0;
}

static inline size_t kvs_item_size(size_t klen, size_t vlen,
				   unsigned int flags)
{
	return sizeof(struct kvs_item) + kvs_item_extra(flags) + klen + vlen;
}

/*
 * Reader area (/kvshm-NAME.rw): a header line, nslots reader slots, then,
 * from the next 64 KiB boundary, nhints 32-bit access-hint words (see
 * shm/hint.h and kvs_hint_index()).
 */
struct kvs_rw_header {
	alignas(KVS_CACHELINE)
	uint32_t magic;			/* const: KVS_RW_MAGIC */
	uint32_t layout_version;	/* const */
	uint64_t generation;		/* const: equals the data header's */
	uint32_t nslots;		/* const */
	uint32_t reserved;
	uint64_t nhints;		/* const */
	char pad[KVS_CACHELINE - 32];
};
_Static_assert(sizeof(struct kvs_rw_header) == KVS_CACHELINE, "rw header");

/*
 * struct kvs_slot - one reading thread's slot, one cache line so that
 * readers never share a line.
 *
 * kvshmd assigns a slot to a client connection (KVS_OP_SLOT) and takes it
 * back when that connection closes; only then does it write epoch (to 0)
 * and clear the counters. While assigned, only the owning thread writes
 * epoch and the counters; kvshmd writes revoked.
 */
struct kvs_slot {
	alignas(KVS_CACHELINE)
	uint64_t epoch;		/* owner: global_epoch at section entry,
				 * 0 at exit (release); kvshmd: acquire
				 * load in grace periods */
	uint64_t hits;		/* owner: relaxed single-writer counters; */
	uint64_t misses;	/* kvshmd: relaxed loads for stats (gets is
				 * their sum) */
	uint32_t owner_pid;	/* kvshmd at assignment, before its reply */
	uint32_t reserved;
	uint64_t revoked;	/* kvshmd only: 0 at assignment (before its
				 * reply); the epoch of a section it gave up
				 * waiting for (--reader-revoke-ms), stored
				 * with release and followed by a full fence
				 * before anything freed after it is reused.
				 * Owner: loaded at the end of each section,
				 * after an acquire fence that orders the
				 * section's loads before it; equal to the
				 * section's epoch means what the section
				 * read may be reused memory (libclient
				 * drops it and reads again) */
	char pad[KVS_CACHELINE - 40];
};
_Static_assert(sizeof(struct kvs_slot) == KVS_CACHELINE, "slot is one line");

static inline struct kvs_slot *kvs_rw_slots(void *rw_base)
{
	return (struct kvs_slot *)((char *)rw_base + sizeof(struct kvs_rw_header));
}

/*
 * The hint words start on a 64 KiB boundary of the rw object, so that the
 * words shadowing a heap page (64 KiB, 8 KiB of words) fill whole system
 * pages, which kvshmd can give back (daemon/hints.h).
 */
#define KVS_RW_HINTS_ALIGN	65536

static inline size_t kvs_rw_hints_off(uint32_t nslots)
{
	size_t n = sizeof(struct kvs_rw_header) +
		   (size_t)nslots * sizeof(struct kvs_slot);

	return (n + KVS_RW_HINTS_ALIGN - 1) & ~(size_t)(KVS_RW_HINTS_ALIGN - 1);
}

static inline uint32_t *kvs_rw_hints(void *rw_base, uint32_t nslots)
{
	return (uint32_t *)((char *)rw_base + kvs_rw_hints_off(nslots));
}

static inline size_t kvs_rw_size(uint32_t nslots, uint64_t nhints)
{
	return kvs_rw_hints_off(nslots) + (size_t)nhints * sizeof(uint32_t);
}

/*
 * struct kvs_map - one mapping of the data segment, as either side sees it.
 */
struct kvs_map {
	char *base;
	uint64_t size;
	const struct kvs_header *hdr;
	/* From the header's const fields, checked once by kvs_map_set():
	 * nshards 0 means no lookup can succeed, and then shards is a
	 * record of one empty shard (kvs_no_shard()), so a lookup needs no
	 * test of its own for it. */
	const struct kvs_shard *shards;
	uint32_t nshards;
	uint32_t shard_bits;
	uint32_t shard_shift;		/* 63 - shard_bits (kvs_hash_shard()) */
	/* The largest offsets at which a bucket and an item header fit:
	 * each read of either is one compare against these. */
	uint64_t bucket_end;		/* size - sizeof(struct kvs_bucket) */
	uint64_t item_end;		/* size - sizeof(struct kvs_item) */
	/* A client's access-hint words (NULL in kvshmd): a lookup fetches
	 * the line of its home bucket's words along with the bucket. */
	const uint32_t *hints;
};

/*
 * kvs_ptr - pointer to @len bytes at offset @off, or NULL.
 * Offsets are read from memory another process wrote: check, never trust.
 *
 * off - 1 >= size is "off == 0 || off > size" in one compare (0 wraps);
 * size - off cannot wrap once it passed.
 */
static inline const void *kvs_ptr(const struct kvs_map *m, kvs_off_t off,
				  size_t len, size_t align)
{
	if (off - 1 >= m->size || off % align || len > m->size - off)
		return NULL;
	return m->base + off;
}

#define KVS_PTR(m, off, type) \
	((const type *)kvs_ptr((m), (off), sizeof(type), alignof(type)))

/* The shard record of a map that has none: one shard with no array. */
static inline const struct kvs_shard *kvs_no_shard(void)
{
	static const struct kvs_shard none;

	return &none;
}

/* kvs_map_clear - make every later lookup through @m fail. */
static inline void kvs_map_clear(struct kvs_map *m)
{
	m->hints = NULL;
	m->nshards = 0;
	m->shard_bits = 0;
	m->shard_shift = 63;
	m->shards = kvs_no_shard();
	m->bucket_end = 0;		/* every offset fails */
	m->item_end = 0;
}

/*
 * kvs_map_set - describe a mapping of @size bytes at @base; the shard
 * records are located and bounds-checked here, once, not per lookup.
 */
static inline void kvs_map_set(struct kvs_map *m, char *base, uint64_t size)
{
	const struct kvs_header *h = (const struct kvs_header *)base;
	const struct kvs_shard *shards;

	m->base = base;
	m->size = size;
	m->hdr = h;
	kvs_map_clear(m);
	if (size < sizeof(*h))
		return;
	m->bucket_end = size - sizeof(struct kvs_bucket);
	m->item_end = size - sizeof(struct kvs_item);
	if (h->shard_bits > 30 || h->nshards != 1U << h->shard_bits)
		return;
	shards = kvs_ptr(m, h->shards_off,
			 (size_t)h->nshards * sizeof(struct kvs_shard),
			 KVS_CACHELINE);
	if (shards) {
		m->shards = shards;
		m->nshards = h->nshards;
		m->shard_bits = h->shard_bits;
		m->shard_shift = 63 - h->shard_bits;
	}
}

#endif /* KVS_LAYOUT_H */
