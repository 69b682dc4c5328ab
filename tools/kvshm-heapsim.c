// SPDX-License-Identifier: MIT
/*
 * tools/kvshm-heapsim.c - slab classes or a segment-structured heap
 * (issue 3): one seeded churn workload replayed against both, offline,
 * and the two targets measured for each:
 *   T1  the heap's overhead per item for 100-byte values and 14-byte
 *       keys (scenario fixed100);
 *   T2  live data / heap limit under churn with mixed value sizes
 *       (DESIGN.md: at least 85%),
 * plus, for the segment heap, its write amplification (bytes its cleaner
 * copied / bytes of items the workload wrote).
 *
 * An item is what kvshmd stores: a 12-byte header, the key and the value,
 * here rounded up to 8 bytes (both heaps hand out 8-byte aligned space).
 * live = the sum of the item sizes of the present keys. No TTLs, no
 * index: kvshmd's bucket arrays, which live in the same heap, are left
 * out for both heaps alike.
 *
 * The heaps:
 *   slab     the real allocator, daemon/alloc.c (libkvd), over a private
 *            buffer. When kva_alloc() fails the simulator evicts as
 *            kvshmd's synchronous path does (kvd_evict_for() and
 *            evict_pages() in daemon/evict.c), in short: victims until
 *            the write's size (doubled per retry) is evicted, of the
 *            write's chunk size if a sample has one and no page is free;
 *            on a retry, or for a large item with no free page, first
 *            every key in the sparsest pages (kva_sparse_page()) until
 *            the write's pages plus 2 plus the attempt are free, or in
 *            the sparsest run (kva_sparse_run()) when enough pages are
 *            free but not together. The keys in a page are found from a
 *            private offset -> key map. Victims follow kvshmd's default
 *            policy, sampled LRU: the least recently written of 16
 *            random present keys. kvshmd's background evictor (a
 *            watermark of free memory) is not modelled: the heap runs
 *            full to the last chunk, which flatters the slab heap a
 *            little (kvshmd keeps 2-4% free).
 *   segment  a log-structured heap modelled here: segments of
 *            --segment-size; items are appended, 8-byte aligned, to the
 *            open segment; an overwrite or delete leaves the old copy
 *            dead where it is. When the free segments fall to --reserve,
 *            either the cleaner takes the sealed segment with the fewest
 *            live bytes (greedy), copies its live items to the open
 *            segment and frees it, or, when live data is above
 *            --seg-target of the limit (or the emptiest segment is more
 *            than 7/8 live, so cleaning would not gain a segment), the
 *            oldest segment is evicted whole: all keys still living in it
 *            are dropped (Segcache-style FIFO segment eviction). Items
 *            larger than a segment take a run of whole free segments.
 *            Not modelled: the index updates the cleaner owes for moved
 *            items, readers still reading a moved or evicted item, and
 *            the grace period before a segment may be reused.
 *
 * The workload mirrors tools/kvshm-churn.c: keys "c" + 13 digits drawn
 * uniformly from a key space --key-factor times larger than what fits;
 * a fill phase writes until items of twice the heap have gone in and
 * something was evicted during it (at most eight times the heap), a churn
 * phase does --ops-factor operations per key that fits, 80% overwrites of
 * present keys, 10% inserts of absent ones and 10% deletes (16 draws at
 * most to find a present or absent key, as kvshm-churn). Both heaps see
 * the same generator from the same seed; their runs part ways at the
 * first eviction that differs, since the next draw of a present key
 * depends on what is present.
 *
 * The accounting is checked as the run goes (every 64Ki operations and at
 * the end of each phase): the live bytes and key count kept on the way
 * against a recount over all keys; for slab, kva_used() against the sum
 * of the chunks the present keys hold, and the private offset -> key map
 * against each key's offset; for segment, each segment's live bytes
 * against a recount from its item list. Exit status: 0, 1 on a
 * mismatch (or out of memory), 2 on a bad command line.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "churnload.h"
#include "layout.h"

_Static_assert(ITEM_HDR == sizeof(struct kvs_item), "churnload.h's header");

#define MAX_ROWS	64
#define FIND_TRIES	16		/* draws to find a key wanted */
#define CHECK_EVERY	65536		/* operations per cheap check */
#define NOLOC		UINT64_MAX	/* where an absent key is */
#define NOKEY		UINT32_MAX

static inline uint32_t item_size(uint32_t vlen)
{
	return (ITEM_HDR + KLEN + vlen + 7) & ~7U;
}

/* ---- options ---- */

struct opts {
	uint64_t memory;
	uint64_t seed;
	uint64_t segsize;
	const char *scenarios;
	double key_factor;
	double ops_factor;
	double seg_target;
	unsigned int reserve;
	bool classes;
	bool verbose;
};

static struct opts o = {
	.memory = 64ULL << 20, .seed = 42, .segsize = 1ULL << 20,
	.scenarios = "mixed,shift,wide,fixed100", .key_factor = 4.0,
	.ops_factor = 2.0, .seg_target = 0.90, .reserve = 2,
};

/* ---- value sizes and the scenarios (as kvshm-churn, plus fixed100) ---- */

static const struct scenario scenarios[] = {
	KVT_CHURN_SCENARIOS,
	{ "fixed100", {
		{ "fill", true, UNIFORM, 100, 100 },
		{ "churn", false, UNIFORM, 100, 100 },
	}, 2 },
};
#define NSCEN (sizeof(scenarios) / sizeof(scenarios[0]))

static uint64_t rng;

static uint64_t rnd(void)
{
	return kvt_splitmix(&rng);
}

/* ---- the simulation's state, common to both heaps ---- */

struct key {
	uint64_t loc;			/* slab: chunk offset; segment:
					 * byte offset in the heap; NOLOC:
					 * absent */
	uint64_t wseq;			/* when written (for LRU) */
	uint32_t vlen;
	uint32_t pos;			/* in sim.present[] */
};

struct sim;

struct heap_ops {
	const char *name;
	int (*init)(struct sim *s);
	void (*fini)(struct sim *s);
	/* Room for an item of @size bytes, evicting or cleaning as needed;
	 * NOLOC if there can be none (an internal error). */
	uint64_t (*alloc)(struct sim *s, uint32_t key, uint32_t size);
	/* The item of @key (present) is dead: overwritten or deleted. */
	void (*release)(struct sim *s, uint32_t key);
	int (*check)(struct sim *s, bool full);
	/* Bytes held (not free for new items), and the T1 overhead. */
	void (*held)(struct sim *s, uint64_t *held, uint64_t *t1);
};

struct sim {
	const struct heap_ops *ops;
	uint64_t limit;
	struct key *keys;
	uint64_t nkeyspace;
	uint32_t *present;		/* ids of the present keys, dense */
	uint64_t npresent;
	uint64_t live, payload;		/* of the present keys */
	uint64_t written, copied, evicted, nops;
	uint64_t erng;			/* the evictor's draws: apart from
					 * the workload's */
	/* slab */
	char *buf;
	struct kva *kva;
	uint32_t *offmap;		/* chunk offset / 16 -> key + 1 */
	uint64_t chunks;		/* sum of the chunks held */
	/* segment */
	struct seg *segs;
	uint32_t nseg, nfree, open;
	uint64_t seq;
};

static bool present(const struct sim *s, uint32_t k)
{
	return s->keys[k].loc != NOLOC;
}

static void set_present(struct sim *s, uint32_t k, uint64_t loc,
			uint32_t vlen)
{
	struct key *kp = &s->keys[k];

	kp->loc = loc;
	kp->vlen = vlen;
	kp->wseq = s->nops;
	kp->pos = (uint32_t)s->npresent;
	s->present[s->npresent++] = k;
	s->live += item_size(vlen);
	s->payload += KLEN + vlen;
}

/* Forget @k (its heap space is the caller's to give back). */
static void set_absent(struct sim *s, uint32_t k)
{
	struct key *kp = &s->keys[k];
	uint32_t last = s->present[--s->npresent];

	s->present[kp->pos] = last;
	s->keys[last].pos = kp->pos;
	s->live -= item_size(kp->vlen);
	s->payload -= KLEN + kp->vlen;
	kp->loc = NOLOC;
}

static int fail(const char *what)
{
	fprintf(stderr, "kvshm-heapsim: accounting mismatch: %s\n", what);
	return -1;
}

/* The present keys against a recount of all keys. */
static int check_common(struct sim *s)
{
	uint64_t n = 0, live = 0, i;

	for (i = 0; i < s->nkeyspace; i++)
		if (present(s, (uint32_t)i)) {
			n++;
			live += item_size(s->keys[i].vlen);
			if (s->present[s->keys[i].pos] != i)
				return fail("present list");
		}
	if (n != s->npresent || live != s->live)
		return fail("live bytes or key count");
	return 0;
}

/* ---- heap A: the slab allocator, daemon/alloc.c ---- */

#define SLAB_BASE	KVA_PAGE_SIZE	/* heap_off: offset 0 is none */

static int slab_init(struct sim *s)
{
	s->buf = aligned_alloc(KVA_PAGE_SIZE, SLAB_BASE + s->limit);
	/* Two chunks' offsets differ by 16 at least: off / 16 is unique. */
	s->offmap = calloc((SLAB_BASE + s->limit) / 16, sizeof(uint32_t));
	if (!s->buf || !s->offmap)
		return -1;
	s->chunks = 0;
	return kva_init(&s->kva, s->buf, SLAB_BASE, s->limit) ? -1 : 0;
}

static void slab_fini(struct sim *s)
{
	kva_destroy(s->kva);
	free(s->buf);
	free(s->offmap);
	s->kva = NULL;
	s->buf = NULL;
	s->offmap = NULL;
}

static void slab_drop(struct sim *s, uint32_t k)
{
	uint64_t off = s->keys[k].loc;

	kva_free(s->kva, off);
	s->offmap[off / 16] = 0;
	s->chunks -= kva_chunk_size(item_size(s->keys[k].vlen));
	set_absent(s, k);
}

static void slab_evict(struct sim *s, uint32_t k)
{
	slab_drop(s, k);
	s->evicted++;
}

/* Every key in the @n pages from @page. */
static uint64_t slab_evict_pages(struct sim *s, uint64_t page, uint32_t n)
{
	uint64_t freed = 0, off;
	uint32_t size, nch, i, j, k;

	for (j = 0; j < n; j++, page += KVA_PAGE_SIZE) {
		if (kva_page_info(s->kva, page, &size, &nch))
			continue;		/* free */
		for (i = 0; i < nch; i++) {
			off = page + (uint64_t)i * size;
			k = s->offmap[off / 16];
			if (!k)
				continue;
			slab_evict(s, k - 1);
			freed += size;
		}
	}
	return freed;
}

/*
 * Sampled LRU, as kvshmd's default policy (keys are only written here,
 * so least recently written): of 16 random present keys the one written
 * longest ago, among those of chunk size @chunk if any is. Not random:
 * after a shift of sizes the old keys are the ones of the old sizes, and
 * evicting them is what empties their pages.
 */
#define SAMPLES		16

static uint32_t slab_victim(struct sim *s, size_t chunk)
{
	uint32_t k, best = NOKEY, any = NOKEY;
	unsigned int t;

	for (t = 0; t < SAMPLES; t++) {
		k = s->present[kvt_splitmix(&s->erng) % s->npresent];
		if (any == NOKEY || s->keys[k].wseq < s->keys[any].wseq)
			any = k;
		if (chunk &&
		    kva_chunk_size(item_size(s->keys[k].vlen)) == chunk &&
		    (best == NOKEY || s->keys[k].wseq < s->keys[best].wseq))
			best = k;
	}
	return best != NOKEY ? best : any;
}

/*
 * As evict_pages() in daemon/evict.c: give back the sparsest pages whole
 * until as many are free as a write of @size could take (its whole pages,
 * two more for classes it may open, one more per @attempt), at most
 * PAGES_MAX; when enough are free already on a retry, what fails is
 * contiguity: evict the sparsest run instead. Bytes evicted.
 */
#define PAGES_MAX	64

static uint64_t slab_evict_pages_for(struct sim *s, uint32_t size,
				     uint32_t attempt)
{
	uint64_t want = size / KVA_PAGE_SIZE + 2 + attempt, freed = 0, page;
	uint32_t csize, nch, i, n;
	struct kva_stats st;

	for (i = 0; i < PAGES_MAX && s->npresent; i++) {
		kva_get_stats(s->kva, &st);
		if (st.pages_free >= want && i == 0 && attempt > 0) {
			n = attempt + 1;
			if (size > KVA_MAX_CLASS &&
			    kva_chunk_size(size) / KVA_PAGE_SIZE > n)
				n = (uint32_t)(kva_chunk_size(size) /
					       KVA_PAGE_SIZE);
			if (n > PAGES_MAX)
				n = PAGES_MAX;
			if (kva_sparse_run(s->kva, n, &page) < 0)
				return 0;
			return slab_evict_pages(s, page, n);
		}
		if (st.pages_free >= want)
			break;
		if (kva_sparse_page(s->kva, NULL, 0, &page, &csize, &nch) < 0)
			break;
		freed += slab_evict_pages(s, page, 1);
	}
	return freed;
}

/*
 * As kvd_evict_for() in daemon/evict.c, the synchronous path of a write
 * that found no room: on a retry (or for a large item with no free
 * page) pages whole first; then random victims until the write's size,
 * doubled on each attempt, has been evicted, of the write's chunk size
 * in the first four attempts when no page is free.
 */
static uint64_t slab_alloc(struct sim *s, uint32_t key, uint32_t size)
{
	struct kva_stats st;
	uint64_t off, freed, target;
	uint32_t attempt, k;
	size_t chunk;

	for (attempt = 0; attempt < 1000; attempt++) {
		off = kva_alloc(s->kva, size);
		if (off) {
			s->offmap[off / 16] = key + 1;
			s->chunks += kva_chunk_size(size);
			return off;
		}
		if (!s->npresent)
			break;
		kva_get_stats(s->kva, &st);
		chunk = st.pages_free == 0 && size <= KVA_MAX_CLASS &&
			attempt < 4 ? kva_chunk_size(size) : 0;
		target = (uint64_t)size << (attempt < 16 ? attempt : 16);
		freed = 0;
		if (attempt > 0 ||
		    (st.pages_free == 0 && size > KVA_MAX_CLASS))
			freed += slab_evict_pages_for(s, size, attempt);
		while (freed < target && s->npresent) {
			k = slab_victim(s, chunk);
			freed += kva_chunk_size(item_size(s->keys[k].vlen));
			slab_evict(s, k);
		}
	}
	return NOLOC;
}

static void slab_release(struct sim *s, uint32_t k)
{
	slab_drop(s, k);
}

static int slab_check(struct sim *s, bool full)
{
	uint64_t chunks = 0, i;
	uint32_t k;

	if (kva_used(s->kva) != s->chunks)
		return fail("kva_used() against the chunks held");
	if (!full)
		return 0;
	for (i = 0; i < s->npresent; i++) {
		k = s->present[i];
		chunks += kva_chunk_size(item_size(s->keys[k].vlen));
		if (s->offmap[s->keys[k].loc / 16] != k + 1)
			return fail("offset map");
	}
	if (chunks != s->chunks)
		return fail("chunks held against a recount");
	return 0;
}

/* Held: pages serving a class or a large run; T1: chunk minus item. */
static void slab_held(struct sim *s, uint64_t *held, uint64_t *t1)
{
	struct kva_stats st;

	kva_get_stats(s->kva, &st);
	*held = (st.pages_total - st.pages_free) * KVA_PAGE_SIZE;
	*t1 = st.used - s->live;
}

static const struct heap_ops slab_ops = {
	"slab", slab_init, slab_fini, slab_alloc, slab_release, slab_check,
	slab_held,
};

/* ---- heap B: the segment-structured heap ---- */

enum seg_state { SEG_FREE, SEG_OPEN, SEG_SEALED, SEG_LARGE, SEG_TAIL };

struct seg_item {
	uint32_t key, off;
};

struct seg {
	enum seg_state state;
	uint32_t fill;			/* bytes appended */
	uint32_t run;			/* SEG_LARGE: segments in run */
	uint64_t live;			/* bytes of live items */
	uint64_t seq;			/* when opened: FIFO order */
	struct seg_item *items;		/* appended, in order */
	uint32_t nitems, cap;
};

static int seg_init(struct sim *s)
{
	uint32_t i;

	s->nseg = (uint32_t)(s->limit / o.segsize);
	s->segs = calloc(s->nseg, sizeof(*s->segs));
	if (!s->segs)
		return -1;
	for (i = 0; i < s->nseg; i++)
		s->segs[i].state = SEG_FREE;
	s->nfree = s->nseg;
	s->open = NOKEY;
	s->seq = 0;
	return 0;
}

static void seg_fini(struct sim *s)
{
	uint32_t i;

	for (i = 0; i < s->nseg; i++)
		free(s->segs[i].items);
	free(s->segs);
	s->segs = NULL;
}

static void seg_free(struct sim *s, uint32_t i)
{
	struct seg *g = &s->segs[i];
	uint32_t n = g->state == SEG_LARGE ? g->run : 1, j;

	for (j = 0; j < n; j++) {
		s->segs[i + j].state = SEG_FREE;
		s->segs[i + j].fill = 0;
		s->segs[i + j].live = 0;
		s->segs[i + j].nitems = 0;
	}
	s->nfree += n;
	if (s->open == i)
		s->open = NOKEY;
}

static int seg_note(struct seg *g, uint32_t key, uint32_t off)
{
	if (g->nitems == g->cap) {
		uint32_t cap = g->cap ? 2 * g->cap : 256;
		struct seg_item *it = realloc(g->items, cap * sizeof(*it));

		if (!it)
			return -1;
		g->items = it;
		g->cap = cap;
	}
	g->items[g->nitems].key = key;
	g->items[g->nitems++].off = off;
	return 0;
}

/* A free segment becomes the open one (the old one is sealed). */
static int seg_open(struct sim *s)
{
	uint32_t i;

	if (s->open != NOKEY)
		s->segs[s->open].state = SEG_SEALED;
	s->open = NOKEY;
	for (i = 0; i < s->nseg; i++)
		if (s->segs[i].state == SEG_FREE)
			break;
	if (i == s->nseg)
		return -1;
	s->segs[i].state = SEG_OPEN;
	s->segs[i].seq = ++s->seq;
	s->nfree--;
	s->open = i;
	return 0;
}

/* Append @size bytes for @key to the open segment (opening one if it is
 * full, from the reserve if need be): its location. */
static uint64_t seg_append(struct sim *s, uint32_t key, uint32_t size)
{
	struct seg *g;
	uint64_t loc;

	if (s->open == NOKEY || s->segs[s->open].fill + size > o.segsize)
		if (seg_open(s))
			return NOLOC;
	g = &s->segs[s->open];
	loc = (uint64_t)s->open * o.segsize + g->fill;
	if (seg_note(g, key, g->fill))
		return NOLOC;
	g->fill += size;
	g->live += size;
	return loc;
}

static bool seg_item_live(const struct sim *s, uint32_t i,
			  const struct seg_item *it)
{
	return s->keys[it->key].loc == (uint64_t)i * o.segsize + it->off;
}

/* Drop every key still living in segment (or run) @i, and free it. */
static void seg_evict(struct sim *s, uint32_t i)
{
	struct seg *g = &s->segs[i];
	uint32_t j;

	for (j = 0; j < g->nitems; j++)
		if (seg_item_live(s, i, &g->items[j])) {
			set_absent(s, g->items[j].key);
			s->evicted++;
		}
	seg_free(s, i);
}

/* Copy the live items of segment @i to the open segment, free it. */
static int seg_clean(struct sim *s, uint32_t i)
{
	struct seg *g = &s->segs[i];
	struct key *kp;
	uint32_t j, size;
	uint64_t loc;

	for (j = 0; j < g->nitems; j++) {
		if (!seg_item_live(s, i, &g->items[j]))
			continue;
		kp = &s->keys[g->items[j].key];
		size = item_size(kp->vlen);
		loc = seg_append(s, g->items[j].key, size);
		if (loc == NOLOC)
			return -1;
		kp->loc = loc;
		s->copied += size;
	}
	seg_free(s, i);
	return 0;
}

/* The sealed segment (or run) written longest ago. */
static uint32_t seg_oldest(const struct sim *s)
{
	uint32_t i, best = NOKEY;

	for (i = 0; i < s->nseg; i++) {
		const struct seg *g = &s->segs[i];

		if (g->state != SEG_SEALED && g->state != SEG_LARGE)
			continue;
		if (best == NOKEY || g->seq < s->segs[best].seq)
			best = i;
	}
	return best;
}

/* The sealed segment with the fewest live bytes (greedy). */
static uint32_t seg_emptiest(const struct sim *s)
{
	uint32_t i, best = NOKEY;

	for (i = 0; i < s->nseg; i++) {
		const struct seg *g = &s->segs[i];

		if (g->state != SEG_SEALED)
			continue;
		if (best == NOKEY || g->live < s->segs[best].live)
			best = i;
	}
	return best;
}

/* One step towards a free segment: clean the emptiest segment, or evict
 * the oldest when live data is above the target, cleaning would not gain
 * a segment (the copies would fill most of one) or @evict says cleaning
 * has been tried long enough (with segments not much larger than the
 * items, the tails can eat what cleaning gains). */
static int seg_make_room(struct sim *s, bool evict)
{
	uint32_t v;

	v = seg_emptiest(s);
	if (!evict && v != NOKEY &&
	    (double)s->live <= o.seg_target * (double)s->limit &&
	    s->segs[v].live <= o.segsize / 8 * 7)
		return seg_clean(s, v);
	v = seg_oldest(s);
	if (v == NOKEY)
		return -1;
	seg_evict(s, v);
	return 0;
}

/* @n contiguous free segments: the first, or NOKEY. */
static uint32_t seg_find_run(const struct sim *s, uint32_t n)
{
	uint32_t i, len = 0;

	for (i = 0; i < s->nseg; i++) {
		len = s->segs[i].state == SEG_FREE ? len + 1 : 0;
		if (len == n)
			return i + 1 - n;
	}
	return NOKEY;
}

static uint64_t seg_alloc_large(struct sim *s, uint32_t key, uint32_t size)
{
	uint32_t n = (uint32_t)((size + o.segsize - 1) / o.segsize), i, j, t;

	for (t = 0; t < 4 * s->nseg; t++) {
		i = seg_find_run(s, n);
		if (i != NOKEY && s->nfree >= n + o.reserve)
			break;
		/* No run: space alone will not make one, so evict. */
		if (s->nfree >= n + o.reserve) {
			uint32_t v = seg_oldest(s);

			if (v == NOKEY)
				return NOLOC;
			seg_evict(s, v);
		} else if (seg_make_room(s, t >= s->nseg)) {
			return NOLOC;
		}
	}
	if (t == 4 * s->nseg)
		return NOLOC;
	for (j = 0; j < n; j++)
		s->segs[i + j].state = SEG_TAIL;
	s->segs[i].state = SEG_LARGE;
	s->segs[i].run = n;
	s->segs[i].fill = size;
	s->segs[i].live = size;
	s->segs[i].seq = ++s->seq;
	s->nfree -= n;
	if (seg_note(&s->segs[i], key, 0))
		return NOLOC;
	return (uint64_t)i * o.segsize;
}

static uint64_t seg_alloc(struct sim *s, uint32_t key, uint32_t size)
{
	unsigned int t;

	if (size > o.segsize)
		return seg_alloc_large(s, key, size);
	if (s->open != NOKEY && s->segs[s->open].fill + size <= o.segsize)
		return seg_append(s, key, size);
	/* A new open segment, keeping the reserve for the cleaner. */
	for (t = 0; s->nfree <= o.reserve; t++)
		if (t == 4 * s->nseg || seg_make_room(s, t >= s->nseg))
			return NOLOC;
	/* Cleaning may have left room in the open segment. */
	return seg_append(s, key, size);
}

static void seg_release(struct sim *s, uint32_t k)
{
	uint64_t loc = s->keys[k].loc;
	uint32_t i = (uint32_t)(loc / o.segsize);

	if (s->segs[i].state == SEG_LARGE)
		seg_free(s, i);
	else
		s->segs[i].live -= item_size(s->keys[k].vlen);
	set_absent(s, k);
}

static int seg_check(struct sim *s, bool full)
{
	uint64_t live = 0, seglive;
	uint32_t i, j, nfree = 0;

	for (i = 0; i < s->nseg; i++) {
		const struct seg *g = &s->segs[i];

		nfree += g->state == SEG_FREE;
		if (g->state == SEG_FREE || g->state == SEG_TAIL)
			continue;
		live += g->live;
		if (!full)
			continue;
		seglive = 0;
		for (j = 0; j < g->nitems; j++)
			if (seg_item_live(s, i, &g->items[j]))
				seglive += item_size(
					s->keys[g->items[j].key].vlen);
		if (seglive != g->live)
			return fail("a segment's live bytes");
	}
	if (nfree != s->nfree)
		return fail("free segments");
	if (live != s->live)
		return fail("live bytes in segments against the keys'");
	return 0;
}

/* Held: segments not free, but the open one only as far as written (the
 * rest is free space); T1: all of it that is not live (dead items
 * awaiting the cleaner, segment tails, the ends of large runs). */
static void seg_held(struct sim *s, uint64_t *held, uint64_t *t1)
{
	uint64_t h = 0;
	uint32_t i;

	for (i = 0; i < s->nseg; i++) {
		const struct seg *g = &s->segs[i];

		if (g->state == SEG_OPEN)
			h += g->fill;
		else if (g->state != SEG_FREE)
			h += o.segsize;
	}
	*held = h;
	*t1 = h - s->live;
}

static const struct heap_ops seg_ops = {
	"segment", seg_init, seg_fini, seg_alloc, seg_release, seg_check,
	seg_held,
};

static const struct heap_ops *const heaps[] = { &slab_ops, &seg_ops };
#define NHEAPS (sizeof(heaps) / sizeof(heaps[0]))

/* ---- the workload ---- */

static int put(struct sim *s, uint32_t k, uint32_t vlen)
{
	uint32_t size = item_size(vlen);
	uint64_t loc;

	/* As kvshmd: the new item is allocated before the old one goes. */
	loc = s->ops->alloc(s, k, size);
	if (loc == NOLOC) {
		fprintf(stderr, "kvshm-heapsim: %s: no room for %u bytes\n",
			s->ops->name, size);
		return -1;
	}
	if (present(s, k))
		s->ops->release(s, k);
	set_present(s, k, loc, vlen);
	s->written += size;
	return 0;
}

static void del(struct sim *s, uint32_t k)
{
	if (present(s, k))
		s->ops->release(s, k);
}

static int tick(struct sim *s)
{
	if (++s->nops % CHECK_EVERY)
		return 0;
	return s->ops->check(s, false);
}

/* Fill: as kvshm-churn, items of twice the heap and an eviction during
 * the phase, or eight times the heap. */
static int run_fill(struct sim *s, const struct phase *p)
{
	uint64_t start = s->written, ev0 = s->evicted, stop;

	for (;;) {
		stop = s->written + s->limit / 4;
		while (s->written < stop)
			if (put(s, (uint32_t)(rnd() % s->nkeyspace),
				kvt_draw_vlen(p, &rng)) || tick(s))
				return -1;
		if (s->written - start < 2 * s->limit)
			continue;
		if (s->evicted > ev0 || s->written - start >= 8 * s->limit)
			return 0;
	}
}

static uint32_t find_key(struct sim *s, bool want)
{
	uint32_t k = 0;
	unsigned int t;

	for (t = 0; t < FIND_TRIES; t++) {
		k = (uint32_t)(rnd() % s->nkeyspace);
		if (present(s, k) == want)
			break;
	}
	return k;		/* else the last draw, as kvshm-churn */
}

/* Churn: 80% overwrites, 10% inserts, 10% deletes. */
static int run_churn(struct sim *s, const struct phase *p, uint64_t ops)
{
	uint64_t i;
	uint32_t k;

	for (i = 0; i < ops; i++) {
		unsigned int r = (unsigned int)(rnd() % 100);

		k = find_key(s, r < 80 || r >= 90);
		if (r < 90) {
			if (put(s, k, kvt_draw_vlen(p, &rng)))
				return -1;
		} else {
			del(s, k);
		}
		if (tick(s))
			return -1;
	}
	return 0;
}

/* ---- the report ---- */

struct row {
	const char *scen, *phase, *heap;
	uint64_t ops, keys, evicted, limit, live, payload, held, t1;
	uint64_t written, copied;
	double secs;
};

static struct row rows[MAX_ROWS];
static unsigned int nrows;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The slab heap's classes after a phase: where calcification shows. */
static void print_classes(struct sim *s, const struct row *r)
{
	static struct kva_class_stats cs[KVA_NCLASSES_MAX];
	unsigned int n, i;

	n = kva_get_classes(s->kva, cs, KVA_NCLASSES_MAX);
	fprintf(stderr, "%s / %s / slab: chunk B, pages, chunks in use / "
		"capacity\n", r->scen, r->phase);
	for (i = 0; i < n && i < KVA_NCLASSES_MAX; i++)
		fprintf(stderr, "  %6u %6u %9" PRIu64 " / %9" PRIu64 "\n",
			cs[i].size, cs[i].pages, cs[i].chunks,
			cs[i].capacity);
}

static int run_one(unsigned int n, const struct scenario *sc,
		   const struct heap_ops *ops)
{
	struct sim s;
	unsigned int i;
	uint64_t j;
	int rc = -1;

	memset(&s, 0, sizeof(s));
	s.ops = ops;
	s.limit = o.memory;
	/* The same stream for both heaps (and kvshm-churn's seeding). */
	rng = o.seed * 0x100000001b3ULL + n;
	s.erng = rng ^ 0x5bd1e995ULL;
	s.nkeyspace = (uint64_t)(o.key_factor * (double)s.limit /
				 kvt_mean_item(&sc->ph[0]));
	if (s.nkeyspace < 1000)
		s.nkeyspace = 1000;
	s.keys = malloc(s.nkeyspace * sizeof(*s.keys));
	s.present = malloc(s.nkeyspace * sizeof(*s.present));
	if (!s.keys || !s.present || ops->init(&s)) {
		fprintf(stderr, "kvshm-heapsim: out of memory\n");
		goto out;
	}
	for (j = 0; j < s.nkeyspace; j++)
		s.keys[j].loc = NOLOC;
	for (i = 0; i < sc->nph; i++) {
		const struct phase *p = &sc->ph[i];
		struct row *r = &rows[nrows];
		uint64_t ops0 = s.nops, ev0 = s.evicted;
		double t0 = now_s();

		if (nrows == MAX_ROWS)
			goto out;
		s.written = s.copied = 0;
		if (p->fill)
			rc = run_fill(&s, p);
		else
			rc = run_churn(&s, p, (uint64_t)(o.ops_factor *
					(double)s.limit / kvt_mean_item(p)));
		if (rc || (rc = ops->check(&s, true)) ||
		    (rc = check_common(&s)))
			goto out;
		rc = -1;
		memset(r, 0, sizeof(*r));
		r->scen = sc->name;
		r->phase = p->name;
		r->heap = ops->name;
		r->ops = s.nops - ops0;
		r->keys = s.npresent;
		r->evicted = s.evicted - ev0;
		r->limit = s.limit;
		r->live = s.live;
		r->payload = s.payload;
		ops->held(&s, &r->held, &r->t1);
		r->written = s.written;
		r->copied = s.copied;
		r->secs = now_s() - t0;
		nrows++;
		if (o.classes && s.kva)
			print_classes(&s, r);
		if (o.verbose)
			fprintf(stderr, "kvshm-heapsim: %s/%s/%s: %" PRIu64
				" ops in %.1f s, live %.1f%%\n", sc->name,
				p->name, ops->name, r->ops, r->secs,
				100.0 * r->live / r->limit);
	}
	rc = 0;
out:
	if (ops->fini)
		ops->fini(&s);
	free(s.keys);
	free(s.present);
	return rc;
}

static double pct(uint64_t a, uint64_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0;
}

static double per(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0;
}

static void print_table(void)
{
	unsigned int i;
	char wa[32];

	printf("| scenario | phase | heap | ops | keys | evictions | "
	       "live / limit | payload / limit | held / limit | "
	       "T1 overhead B/item | held - live B/item | write amp |\n"
	       "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];

		if (strcmp(r->heap, "segment"))
			snprintf(wa, sizeof(wa), "-");
		else
			snprintf(wa, sizeof(wa), "%.2f",
				 per(r->copied, r->written));
		printf("| %s | %s | %s | %" PRIu64 " | %" PRIu64 " | %" PRIu64
		       " | %.1f%% | %.1f%% | %.1f%% | %.1f | %.1f | %s |\n",
		       r->scen, r->phase, r->heap, r->ops, r->keys,
		       r->evicted, pct(r->live, r->limit),
		       pct(r->payload, r->limit), pct(r->held, r->limit),
		       per(r->t1, r->keys), per(r->held - r->live, r->keys),
		       wa);
	}
	printf("\nlive = items of the present keys (12 B header + 14 B key + "
	       "value, 8-byte aligned); payload = keys + values; held = "
	       "slab: pages serving a class or a large run, segment: "
	       "segments in use (the open one as far as written). T1 "
	       "overhead = slab: chunk minus item; segment: held minus live "
	       "(dead items awaiting the cleaner, segment tails). held - "
	       "live adds, for slab, free chunks in class pages and page "
	       "tails. write amp = bytes the cleaner copied / bytes of items "
	       "written, in the phase. No index, no TTLs.\n");
}

/* ---- the command line ---- */

static int parse_size(const char *arg, uint64_t *v)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(arg, &end, 10);
	if (errno || end == arg)
		return -1;
	switch (*end) {
	case 'k': case 'K': n <<= 10; end++; break;
	case 'm': case 'M': n <<= 20; end++; break;
	case 'g': case 'G': n <<= 30; end++; break;
	}
	if (*end)
		return -1;
	*v = n;
	return 0;
}

static int parse_double(const char *arg, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(arg, &end);
	return errno || end == arg || *end ? -1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: kvshm-heapsim [OPTION]...\n"
"Slab classes (daemon/alloc.c) against a segment-structured heap, under\n"
"one seeded churn workload, offline (a Markdown table).\n"
"\n"
"  --memory SIZE        heap bytes (default: 64M)\n"
"  --scenarios LIST     of mixed, shift, wide, fixed100 (default: all)\n"
"  --segment-size SIZE  the segment heap's segments (default: 1M)\n"
"  --seg-target F       live fraction of the limit above which the\n"
"                       segment heap evicts rather than cleans (0.9)\n"
"  --reserve N          free segments kept for the cleaner (default: 2)\n"
"  --ops-factor F       churn operations per key that fits (default: 2)\n"
"  --key-factor F       key space: F times the keys that fit (default: 4)\n"
"  --seed N             random seed (default: 42)\n"
"  --classes            the slab heap's size classes after each phase\n"
"                       (on stderr)\n"
"  --verbose            a progress line per phase on stderr\n"
"  -h, --help           this help\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "memory", required_argument, NULL, 'm' },
		{ "scenarios", required_argument, NULL, 's' },
		{ "segment-size", required_argument, NULL, 'g' },
		{ "seg-target", required_argument, NULL, 't' },
		{ "reserve", required_argument, NULL, 'r' },
		{ "ops-factor", required_argument, NULL, 'o' },
		{ "key-factor", required_argument, NULL, 'k' },
		{ "seed", required_argument, NULL, 'S' },
		{ "classes", no_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool want[NSCEN] = { false }, bad = false;
	char *end;
	unsigned int i, h;
	int opt, rc = 0;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'm': bad |= parse_size(optarg, &o.memory) < 0; break;
		case 's': o.scenarios = optarg; break;
		case 'g': bad |= parse_size(optarg, &o.segsize) < 0; break;
		case 't': bad |= parse_double(optarg, &o.seg_target) < 0; break;
		case 'r':
			o.reserve = (unsigned int)strtoul(optarg, &end, 10);
			bad |= end == optarg || *end;
			break;
		case 'o': bad |= parse_double(optarg, &o.ops_factor) < 0; break;
		case 'k': bad |= parse_double(optarg, &o.key_factor) < 0; break;
		case 'S':
			o.seed = strtoull(optarg, &end, 10);
			bad |= end == optarg || *end;
			break;
		case 'c': o.classes = true; break;
		case 'v': o.verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	/* A heap of whole pages and at least 4 segments past the reserve;
	 * segments of whole 8-byte words, each fitting in a uint32_t. */
	if (bad || optind != argc || o.memory % KVA_PAGE_SIZE ||
	    o.memory < 16 * KVA_PAGE_SIZE || o.memory > (1ULL << 40) ||
	    o.segsize < 4096 || o.segsize % 8 || o.segsize > (1ULL << 30) ||
	    o.memory / o.segsize < 4 + o.reserve || o.reserve < 1 ||
	    o.key_factor < 1 || o.ops_factor < 0 || o.seg_target <= 0 ||
	    o.seg_target > 1) {
		usage(stderr);
		return 2;
	}
	if (kvt_pick_scenarios("kvshm-heapsim", o.scenarios, scenarios, NSCEN,
			       want)) {
		usage(stderr);
		return 2;
	}
	if (o.key_factor * (double)o.memory / ITEM_HDR >= (double)UINT32_MAX) {
		fprintf(stderr, "kvshm-heapsim: key space too large\n");
		return 2;
	}
	printf("kvshm-heapsim: --memory %" PRIu64 " (%" PRIu64 " MiB), "
	       "seed %" PRIu64 ", key space %.1fx what fits, %.1f churn ops "
	       "per key that fits; segment heap: %" PRIu64 " KiB segments, "
	       "cleans below %.0f%% live, reserve %u, FIFO segment "
	       "eviction\n\n", o.memory, o.memory >> 20, o.seed,
	       o.key_factor, o.ops_factor, o.segsize >> 10,
	       100 * o.seg_target, o.reserve);
	for (i = 0; i < NSCEN && !rc; i++) {
		if (!want[i])
			continue;
		for (h = 0; h < NHEAPS; h++)
			if (run_one(i, &scenarios[i], heaps[h])) {
				fprintf(stderr, "kvshm-heapsim: %s on %s "
					"failed\n", scenarios[i].name,
					heaps[h]->name);
				rc = 1;
				break;
			}
	}
	print_table();
	return rc;
}
