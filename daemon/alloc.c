// SPDX-License-Identifier: MIT
/*
 * daemon/alloc.c - size-class pages over the shared heap (see alloc.h).
 *
 * Per page (private): its class, its kind, how many chunks are in use, a
 * bump index for never-used chunks, an intrusive free list, and links in
 * its class's list of partially used pages of that kind. Allocation takes
 * from the first partial page of the class and kind, or claims a free
 * page; freeing the last chunk of a page gives the page back. Large runs
 * are found first-fit from a roving hint.
 *
 * Kinds keep item memory type-stable: a page, slab or run that leaves the
 * pool for kva_alloc()/kva_alloc_n() is an item page, one that leaves it
 * for kva_alloc_align() an array page, and it keeps that kind until it
 * returns (every page of a slab or run carries it). Each class has one
 * partial list per kind, so a chunk freed from an item page is handed out
 * again only as an item, an array chunk only as an array. Pages in the
 * pool have no kind: only there does memory change kind.
 *
 * While the heap is held (kva_hold()), nothing goes back to the pool: a
 * class page or slab whose last chunk is freed stays on its partial list
 * (nused 0), for its class and kind only; a freed large run is parked
 * (PG_PARKED, on the list at ->parked), and only an allocation of its
 * kind and its exact length takes it again. Lifting the hold returns
 * both to the pool.
 *
 * Bucket arrays of 32 KiB to 512 KiB (kva_alloc_align()) have classes of
 * their own whose chunks do not divide a page: a "slab" of several
 * adjoining pages serves them, its first page carrying the class and
 * the chunk accounting, the others marked PG_STAIL and naming the first.
 * Without them such an array would take whole pages: at 1M keys over 256
 * shards, 64 KiB for the 39 KiB each shard needs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"

#define PG_FREE		0xffff
#define PG_LARGE	0xfffe		/* head of a run; nused = run length */
#define PG_TAIL		0xfffd		/* inside a run */
#define PG_STAIL	0xfffc		/* inside a slab; bump = its first page */
#define PG_PARKED	0xfffb		/* head of a run freed while held;
					 * nused = run length, tails PG_TAIL */
#define NO_PAGE		UINT32_MAX
#define MAX_CLASSES	KVA_NCLASSES_MAX

/* What a page out of the pool serves; KIND_NONE in the pool. */
enum {
	KIND_ITEM,			/* kva_alloc(), kva_alloc_n() */
	KIND_ARRAY,			/* kva_alloc_align() */
	NKINDS,
	KIND_NONE = NKINDS,
};

struct kva_page {
	uint16_t cls;
	uint8_t kind;			/* KIND_*, set on every page of a
					 * page, slab or run as it leaves
					 * the pool, KIND_NONE back in it */
	uint32_t nused;
	uint32_t bump;
	uint32_t prev, next;		/* partial list of class and kind,
					 * or parked runs */
	kvs_off_t free;			/* first free chunk, 0 = none */
};

struct kva_class {
	uint32_t size;
	uint32_t per_page;		/* chunks per slab */
	uint32_t npages;		/* pages per slab: 1 but for arrays */
};

struct kva {
	pthread_mutex_t lock;
	char *base;
	kvs_off_t heap_off;
	uint32_t npages;
	uint32_t pages_free;
	uint32_t rover;			/* next-fit hint for page claims */
	uint64_t used;			/* under lock; relaxed atomic stores,
					 * since kva_used() reads it without */
	struct kva_page *pages;
	uint32_t partial[MAX_CLASSES][NKINDS];	/* first partial page */
	/* For stats, under lock (written by alloc and free, read by
	 * kva_get_stats() and kva_get_classes()). */
	uint32_t cls_pages[MAX_CLASSES];	/* pages serving each class */
	uint64_t cls_chunks[MAX_CLASSES];	/* chunks in use per class */
	uint32_t pages_large;		/* pages in large runs */
	/* The hold (kva_hold()): written under lock (atomic store, so that
	 * kva_held() may read it without); read under lock. */
	bool held;
	uint32_t pages_held;		/* wholly free, held back */
	uint32_t parked;		/* first parked run, NO_PAGE if none */
	kva_release_fn release;		/* set before use, then const */
	void *release_arg;
};

/* The class table is the same for every heap: built once. */
static struct kva_class classes[MAX_CLASSES];
static unsigned int nclasses;
static unsigned int first_slab;		/* classes from here: multi-page */
static uint16_t class_of8[KVA_MAX_CLASS / 8 + 1];	/* (size+7)/8 -> class */
static pthread_once_t classes_once = PTHREAD_ONCE_INIT;

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/*
 * The array classes: 4 KiB steps from 36 KiB, 8 KiB from 64, 16 KiB from
 * 128, 32 KiB from 256 to 480 (multiples of 64 KiB are left to page runs,
 * which fit them exactly). Each slab takes the fewest pages, at most 16,
 * that hold two chunks or more and leave at most 1/32 of the slab unused
 * (a size with no such slab has no class).
 */
static void slabs_build(void)
{
	uint32_t s, step, p, best_p;

	first_slab = nclasses;
	for (s = KVA_MAX_CLASS + 4096; s < 512 * 1024; s += step) {
		step = s < 64 * 1024 ? 4096 : s < 128 * 1024 ? 8192 :
		       s < 256 * 1024 ? 16384 : 32768;
		if (s % KVA_PAGE_SIZE == 0)
			continue;
		best_p = 0;
		for (p = 1; p <= 16 && !best_p; p++) {
			uint64_t bytes = (uint64_t)p * KVA_PAGE_SIZE;

			if (bytes / s >= 2 && bytes % s <= bytes / 32)
				best_p = p;
		}
		if (!best_p || nclasses == MAX_CLASSES)
			continue;
		classes[nclasses].size = s;
		classes[nclasses].npages = best_p;
		classes[nclasses].per_page =
			(uint32_t)((uint64_t)best_p * KVA_PAGE_SIZE / s);
		nclasses++;
	}
}

static void classes_build(void)
{
	uint32_t sizes[MAX_CLASSES], s, p;
	unsigned int n = 0, i, j;

	for (s = 16; s <= 256; s += 8)
		sizes[n++] = s;
	for (s = 256; s < KVA_MAX_CLASS;) {
		s = (s + s / 16 + 7) & ~7U;
		if (s > KVA_MAX_CLASS)
			s = KVA_MAX_CLASS;
		sizes[n++] = s;
	}
	for (p = 64; p <= KVA_MAX_CLASS; p *= 2)
		sizes[n++] = p;
	qsort(sizes, n, sizeof(sizes[0]), cmp_u32);
	for (i = 0, j = 0; i < n; i++) {
		if (j && sizes[i] == classes[j - 1].size)
			continue;
		classes[j].size = sizes[i];
		classes[j].per_page = KVA_PAGE_SIZE / sizes[i];
		j++;
	}
	for (i = 0; i < j; i++)
		classes[i].npages = 1;
	nclasses = j;
	for (i = 0, j = 0; i <= KVA_MAX_CLASS / 8; i++) {
		while (classes[j].size < i * 8)
			j++;
		class_of8[i] = (uint16_t)j;
	}
	slabs_build();
}

size_t kva_chunk_size(size_t size)
{
	pthread_once(&classes_once, classes_build);
	if (size == 0)
		size = 8;
	if (size > KVA_MAX_CLASS)
		return (size + KVA_PAGE_SIZE - 1) & ~(size_t)(KVA_PAGE_SIZE - 1);
	return classes[class_of8[(size + 7) / 8]].size;
}

/* The class kva_alloc_align() serves @size from; nclasses for a run. */
static unsigned int align_class(size_t size, size_t align)
{
	unsigned int c;

	if (size <= KVA_MAX_CLASS) {
		for (c = class_of8[(size + 7) / 8]; c < first_slab; c++)
			if (classes[c].size % align == 0)
				return c;
		return nclasses;
	}
	for (c = first_slab; c < nclasses; c++)
		if (classes[c].size >= size && classes[c].size % align == 0)
			return classes[c].size < kva_chunk_size(size) ? c : nclasses;
	return nclasses;
}

size_t kva_chunk_size_align(size_t size, size_t align)
{
	unsigned int c;

	pthread_once(&classes_once, classes_build);
	if (size == 0)
		return 0;
	c = align_class(size, align);
	if (c < nclasses)
		return classes[c].size;
	return (size + KVA_PAGE_SIZE - 1) & ~(size_t)(KVA_PAGE_SIZE - 1);
}

int kva_init(struct kva **ap, char *base, kvs_off_t heap_off, uint64_t heap_size)
{
	struct kva *a;
	uint32_t i;

	pthread_once(&classes_once, classes_build);
	if (heap_off % KVA_PAGE_SIZE || heap_size < KVA_PAGE_SIZE ||
	    heap_size / KVA_PAGE_SIZE >= NO_PAGE)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->npages = (uint32_t)(heap_size / KVA_PAGE_SIZE);
	a->pages = calloc(a->npages, sizeof(*a->pages));
	if (!a->pages) {
		free(a);
		return -ENOMEM;
	}
	for (i = 0; i < a->npages; i++) {
		a->pages[i].cls = PG_FREE;
		a->pages[i].kind = KIND_NONE;
	}
	a->pages_free = a->npages;
	a->base = base;
	a->heap_off = heap_off;
	pthread_mutex_init(&a->lock, NULL);
	for (i = 0; i < MAX_CLASSES; i++)
		a->partial[i][KIND_ITEM] = a->partial[i][KIND_ARRAY] = NO_PAGE;
	a->parked = NO_PAGE;
	*ap = a;
	return 0;
}

void kva_destroy(struct kva *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	free(a->pages);
	free(a);
}

static void used_add(struct kva *a, uint64_t delta)
{
	__atomic_store_n(&a->used, a->used + delta, __ATOMIC_RELAXED);
}

uint64_t kva_used(struct kva *a)
{
	return __atomic_load_n(&a->used, __ATOMIC_RELAXED);
}

uint64_t kva_limit(struct kva *a)
{
	return (uint64_t)a->npages << KVA_PAGE_SHIFT;
}

static kvs_off_t page_off(const struct kva *a, uint32_t pi)
{
	return a->heap_off + ((kvs_off_t)pi << KVA_PAGE_SHIFT);
}

/* First run of @n free pages at or after @from; NO_PAGE if none. */
static uint32_t find_run(const struct kva *a, uint32_t from, uint32_t n)
{
	uint32_t i, run = 0;

	for (i = from; i < a->npages; i++) {
		if (a->pages[i].cls != PG_FREE) {
			run = 0;
			continue;
		}
		if (++run == n)
			return i + 1 - n;
	}
	return NO_PAGE;
}

/* Claim @n contiguous free pages for @kind, next-fit from the rover. */
static uint32_t pages_claim(struct kva *a, uint32_t n, unsigned int kind)
{
	uint32_t first, i;

	if (n > a->pages_free)
		return NO_PAGE;
	first = find_run(a, a->rover, n);
	if (first == NO_PAGE && a->rover)
		first = find_run(a, 0, n);
	if (first == NO_PAGE)
		return NO_PAGE;
	a->rover = first + n < a->npages ? first + n : 0;
	a->pages_free -= n;
	for (i = 0; i < n; i++)
		a->pages[first + i].kind = (uint8_t)kind;
	return first;
}

/* The partial list page @pi is on (or would be): its class's, its kind's. */
static uint32_t *partial_of(struct kva *a, uint32_t pi)
{
	return &a->partial[a->pages[pi].cls][a->pages[pi].kind];
}

static void list_del(struct kva *a, uint32_t *head, uint32_t pi)
{
	struct kva_page *pg = &a->pages[pi];

	if (pg->prev != NO_PAGE)
		a->pages[pg->prev].next = pg->next;
	else
		*head = pg->next;
	if (pg->next != NO_PAGE)
		a->pages[pg->next].prev = pg->prev;
	pg->prev = pg->next = NO_PAGE;
}

static void list_push(struct kva *a, uint32_t *head, uint32_t pi)
{
	struct kva_page *pg = &a->pages[pi];

	pg->prev = NO_PAGE;
	pg->next = *head;
	if (*head != NO_PAGE)
		a->pages[*head].prev = pi;
	*head = pi;
}

/* Take a parked run of exactly @n pages of @kind; NO_PAGE if none. */
static uint32_t parked_take(struct kva *a, uint32_t n, unsigned int kind)
{
	uint32_t pi;

	for (pi = a->parked; pi != NO_PAGE; pi = a->pages[pi].next) {
		if (a->pages[pi].nused != n || a->pages[pi].kind != kind)
			continue;
		list_del(a, &a->parked, pi);
		a->pages_held -= n;
		return pi;
	}
	return NO_PAGE;
}

static kvs_off_t alloc_large(struct kva *a, size_t size, unsigned int kind)
{
	uint64_t n = (size + KVA_PAGE_SIZE - 1) >> KVA_PAGE_SHIFT;
	uint32_t first, i;

	if (n > a->npages)
		return 0;
	first = parked_take(a, (uint32_t)n, kind);
	if (first == NO_PAGE)
		first = pages_claim(a, (uint32_t)n, kind);
	if (first == NO_PAGE)
		return 0;
	a->pages[first].cls = PG_LARGE;
	a->pages[first].nused = (uint32_t)n;
	for (i = 1; i < n; i++)
		a->pages[first + i].cls = PG_TAIL;
	a->pages_large += (uint32_t)n;
	used_add(a, n << KVA_PAGE_SHIFT);
	return page_off(a, first);
}

/*
 * A free chunk's first 8 bytes link it to the next free chunk of its
 * page (under the lock). Relaxed atomics, because the evictor reads the
 * first bytes of chunks without knowing whether they are free
 * (daemon/evict.c, evict_chunks()): the link only ever looks to it like
 * an item header it then finds no key for.
 */
static kvs_off_t free_link(const struct kva *a, kvs_off_t off)
{
	return __atomic_load_n((const uint64_t *)(const void *)(a->base + off),
			       __ATOMIC_RELAXED);
}

static void set_free_link(struct kva *a, kvs_off_t off, kvs_off_t next)
{
	__atomic_store_n((uint64_t *)(void *)(a->base + off), next,
			 __ATOMIC_RELAXED);
}

/* A chunk of class @ci from a page of @kind (lock held); 0 if none. */
static kvs_off_t alloc_small(struct kva *a, unsigned int ci, unsigned int kind)
{
	const struct kva_class *c = &classes[ci];
	struct kva_page *pg;
	uint32_t *head = &a->partial[ci][kind];
	uint32_t pi = *head;
	kvs_off_t off;

	if (pi == NO_PAGE) {
		uint32_t i;

		pi = pages_claim(a, c->npages, kind);
		if (pi == NO_PAGE)
			return 0;
		pg = &a->pages[pi];
		pg->cls = (uint16_t)ci;
		pg->nused = 0;
		pg->bump = 0;
		pg->free = 0;
		for (i = 1; i < c->npages; i++) {
			a->pages[pi + i].cls = PG_STAIL;
			a->pages[pi + i].bump = pi;
		}
		list_push(a, head, pi);
		a->cls_pages[ci] += c->npages;
	} else if (a->pages[pi].nused == 0) {
		a->pages_held -= c->npages;	/* held back, taken again */
	}
	pg = &a->pages[pi];
	if (pg->free) {
		off = pg->free;
		pg->free = free_link(a, off);
	} else {
		off = page_off(a, pi) + (kvs_off_t)pg->bump * c->size;
		pg->bump++;
	}
	if (++pg->nused == c->per_page)
		list_del(a, head, pi);
	a->cls_chunks[ci]++;
	used_add(a, c->size);
	return off;
}

/* One item of @size (not 0), lock held. */
static kvs_off_t alloc_locked(struct kva *a, size_t size)
{
	if (size > KVA_MAX_CLASS)
		return alloc_large(a, size, KIND_ITEM);
	return alloc_small(a, class_of8[(size + 7) / 8], KIND_ITEM);
}

kvs_off_t kva_alloc_align(struct kva *a, size_t size, size_t align)
{
	unsigned int c;
	kvs_off_t off;

	pthread_once(&classes_once, classes_build);
	c = align_class(size ? size : 8, align);
	pthread_mutex_lock(&a->lock);
	off = c < nclasses ? alloc_small(a, c, KIND_ARRAY) : 0;
	/* No class, or no room for a new slab: whole pages. */
	if (!off && (c == nclasses || classes[c].npages > 1))
		off = alloc_large(a, size ? size : 8, KIND_ARRAY);
	pthread_mutex_unlock(&a->lock);
	return off;
}

void kva_set_release(struct kva *a, kva_release_fn fn, void *arg)
{
	a->release = fn;
	a->release_arg = arg;
}

/*
 * Pages [@pi, @pi + @n), a whole page, slab or run, go back to the pool
 * (lock held) and lose their kind. If they served kva_alloc_align(), call
 * the release hook, under the lock: once it is dropped, another thread
 * may take these pages for a new array and write its words, which a
 * release after that would wipe.
 */
static void pages_return(struct kva *a, uint32_t pi, uint32_t n)
{
	bool array = a->pages[pi].kind == KIND_ARRAY;
	uint32_t i;

	for (i = 0; i < n; i++) {
		a->pages[pi + i].cls = PG_FREE;
		a->pages[pi + i].kind = KIND_NONE;
	}
	a->pages[pi].nused = 0;
	a->pages_free += n;
	if (array && a->release)
		a->release(a->release_arg, page_off(a, pi),
			   (uint64_t)n << KVA_PAGE_SHIFT);
}

/* Class page or slab @pi, no chunk in use, back to the pool (lock held). */
static void class_return(struct kva *a, uint32_t pi)
{
	uint16_t ci = a->pages[pi].cls;

	list_del(a, partial_of(a, pi), pi);
	a->cls_pages[ci] -= classes[ci].npages;
	pages_return(a, pi, classes[ci].npages);
}

kvs_off_t kva_alloc(struct kva *a, size_t size)
{
	kvs_off_t off;

	pthread_mutex_lock(&a->lock);
	off = alloc_locked(a, size ? size : 8);
	pthread_mutex_unlock(&a->lock);
	return off;
}

void kva_alloc_n(struct kva *a, const size_t *size, kvs_off_t *off,
		 unsigned int n)
{
	unsigned int i;

	pthread_mutex_lock(&a->lock);
	for (i = 0; i < n; i++)
		off[i] = size[i] ? alloc_locked(a, size[i]) : 0;
	pthread_mutex_unlock(&a->lock);
}

void kva_free(struct kva *a, kvs_off_t off)
{
	struct kva_page *pg;
	const struct kva_class *c;
	uint64_t rel = off - a->heap_off;
	uint32_t pi, n;

	if (off < a->heap_off || (rel >> KVA_PAGE_SHIFT) >= a->npages || off % 8)
		kvd_die("event=bad_free off=%llu", (unsigned long long)off);
	pi = (uint32_t)(rel >> KVA_PAGE_SHIFT);
	pthread_mutex_lock(&a->lock);
	pg = &a->pages[pi];
	if (pg->cls == PG_STAIL) {		/* a chunk of a slab */
		pi = pg->bump;
		pg = &a->pages[pi];
		rel = off - page_off(a, pi);
	} else {
		rel %= KVA_PAGE_SIZE;		/* from the page, or slab */
	}
	if (pg->cls == PG_LARGE) {
		if (rel)
			kvd_die("event=bad_free off=%llu", (unsigned long long)off);
		n = pg->nused;
		a->pages_large -= n;
		used_add(a, -((uint64_t)n << KVA_PAGE_SHIFT));
		if (a->held) {
			pg->cls = PG_PARKED;
			list_push(a, &a->parked, pi);
			a->pages_held += n;
		} else {
			pages_return(a, pi, n);
		}
		goto out;
	}
	if (pg->cls >= nclasses || pg->nused == 0)
		kvd_die("event=bad_free off=%llu cls=%u", (unsigned long long)off,
			pg->cls);
	c = &classes[pg->cls];
	if (rel % c->size || rel / c->size >= pg->bump)
		kvd_die("event=bad_free off=%llu", (unsigned long long)off);
	set_free_link(a, off, pg->free);
	pg->free = off;
	if (pg->nused == c->per_page)
		list_push(a, partial_of(a, pi), pi);
	used_add(a, -(uint64_t)c->size);
	a->cls_chunks[pg->cls]--;
	if (--pg->nused == 0) {
		if (a->held)		/* stays on its partial list */
			a->pages_held += c->npages;
		else
			class_return(a, pi);
	}
out:
	pthread_mutex_unlock(&a->lock);
}

void kva_hold(struct kva *a, bool on)
{
	unsigned int ci, k;
	uint32_t pi, next;

	pthread_mutex_lock(&a->lock);
	if (!on && a->held) {
		for (ci = 0; ci < nclasses; ci++) {
			for (k = 0; k < NKINDS; k++) {
				for (pi = a->partial[ci][k]; pi != NO_PAGE;
				     pi = next) {
					next = a->pages[pi].next;
					if (a->pages[pi].nused == 0)
						class_return(a, pi);
				}
			}
		}
		while ((pi = a->parked) != NO_PAGE) {
			list_del(a, &a->parked, pi);
			pages_return(a, pi, a->pages[pi].nused);
		}
		a->pages_held = 0;
	}
	__atomic_store_n(&a->held, on, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&a->lock);
}

bool kva_held(const struct kva *a)
{
	return __atomic_load_n(&a->held, __ATOMIC_RELAXED);
}

/*
 * A page of a one-page class serving items: what the evictor may empty
 * (bucket arrays, in array pages and slabs, cannot be evicted).
 */
static bool item_page(const struct kva_page *pg)
{
	return pg->cls < first_slab && pg->kind == KIND_ITEM;
}

static bool skipped(const struct kva *a, uint32_t pi, const kvs_off_t *skip,
		    unsigned int nskip)
{
	unsigned int i;

	for (i = 0; i < nskip; i++)
		if (skip[i] == page_off(a, pi))
			return true;
	return false;
}

int kva_sparse_page(struct kva *a, const kvs_off_t *skip, unsigned int nskip,
		    kvs_off_t *off, uint32_t *size, uint32_t *nchunks)
{
	uint64_t bytes, best_bytes = UINT64_MAX;
	uint32_t pi, best = NO_PAGE;

	pthread_mutex_lock(&a->lock);
	for (pi = 0; pi < a->npages; pi++) {
		const struct kva_page *pg = &a->pages[pi];

		if (!item_page(pg) || !pg->nused)	/* free, runs, arrays,
							 * held back */
			continue;
		bytes = (uint64_t)pg->nused * classes[pg->cls].size;
		if (bytes >= best_bytes || skipped(a, pi, skip, nskip))
			continue;
		best = pi;
		best_bytes = bytes;
	}
	if (best != NO_PAGE) {
		*off = page_off(a, best);
		*size = classes[a->pages[best].cls].size;
		*nchunks = a->pages[best].bump;	/* chunks ever handed out */
	}
	pthread_mutex_unlock(&a->lock);
	return best == NO_PAGE ? -ENOENT : 0;
}

int kva_page_info(struct kva *a, kvs_off_t off, uint32_t *size,
		  uint32_t *nchunks)
{
	uint32_t pi = (uint32_t)((off - a->heap_off) >> KVA_PAGE_SHIFT);
	int rc = -ENOENT;

	pthread_mutex_lock(&a->lock);
	if (pi < a->npages && item_page(&a->pages[pi])) {
		*size = classes[a->pages[pi].cls].size;
		*nchunks = a->pages[pi].bump;
		rc = 0;
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}

int kva_sparse_run(struct kva *a, uint32_t n, kvs_off_t *off)
{
	uint64_t bytes = 0, best_bytes = UINT64_MAX;
	uint32_t pi, len = 0, best = NO_PAGE;

	pthread_mutex_lock(&a->lock);
	for (pi = 0; pi < a->npages; pi++) {
		const struct kva_page *pg = &a->pages[pi], *out;

		if (pg->cls != PG_FREE && !item_page(pg)) {
			len = 0;	/* a large run, or arrays */
			bytes = 0;
			continue;
		}
		if (pg->cls != PG_FREE)
			bytes += (uint64_t)pg->nused * classes[pg->cls].size;
		if (++len > n) {
			out = &a->pages[pi - n];
			if (out->cls != PG_FREE)
				bytes -= (uint64_t)out->nused *
					 classes[out->cls].size;
			len = n;
		}
		if (len == n && bytes < best_bytes) {
			best = pi + 1 - n;
			best_bytes = bytes;
		}
	}
	if (best != NO_PAGE)
		*off = page_off(a, best);
	pthread_mutex_unlock(&a->lock);
	return best == NO_PAGE ? -ENOENT : 0;
}

void kva_get_stats(struct kva *a, struct kva_stats *st)
{
	pthread_mutex_lock(&a->lock);
	st->used = a->used;
	st->limit = (uint64_t)a->npages << KVA_PAGE_SHIFT;
	st->pages_free = a->pages_free;
	st->pages_total = a->npages;
	st->pages_large = a->pages_large;
	st->pages_held = a->pages_held;
	pthread_mutex_unlock(&a->lock);
}

unsigned int kva_get_classes(struct kva *a, struct kva_class_stats *cs,
			     unsigned int max)
{
	unsigned int i, n = 0;

	pthread_mutex_lock(&a->lock);
	for (i = 0; i < nclasses; i++) {
		if (!a->cls_pages[i])
			continue;
		if (n < max) {
			cs[n].size = classes[i].size;
			cs[n].pages = a->cls_pages[i];
			cs[n].chunks = a->cls_chunks[i];
			cs[n].capacity = (uint64_t)a->cls_pages[i] /
					 classes[i].npages * classes[i].per_page;
		}
		n++;
	}
	pthread_mutex_unlock(&a->lock);
	return n;
}
