/* SPDX-License-Identifier: MIT */
/*
 * daemon/alloc.h - kvshmd's heap allocator over the data segment's heap.
 *
 * Only kvshmd allocates. The heap is cut into 64 KiB pages; a page serves
 * one size class (8-byte steps to 256 B, then ~6% steps to 32 KiB, plus
 * every power of two), and larger objects take runs of whole pages. Bucket
 * arrays (kva_alloc_align()) also have classes from 36 KiB to 480 KiB,
 * served by slabs of several pages. An empty page returns to the
 * page pool, so memory moves between size classes as the mix shifts.
 *
 * Item memory is type-stable: a page, slab or page run serves one kind,
 * items (kva_alloc(), kva_alloc_n()) or bucket arrays (kva_alloc_align()),
 * from when it leaves the pool until it returns to it. A chunk freed from
 * an item page is handed out again only as an item, an array chunk only
 * as an array, even in a size class both use. Pages in the pool have no
 * kind. kva_hold() keeps freed pages out of the pool, so that no page
 * changes kind while the hold lasts.
 *
 * All metadata is daemon-private except the free-list link, which lives in
 * the first 8 bytes of a free chunk: a chunk is only freed after a grace
 * period, when no reader can reach it.
 *
 * Thread-safe: one internal mutex (the server thread allocates, the
 * reclaim thread frees).
 */
#ifndef KVD_ALLOC_H
#define KVD_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

#define KVA_PAGE_SHIFT	16
#define KVA_PAGE_SIZE	(1U << KVA_PAGE_SHIFT)
#define KVA_MAX_CLASS	(KVA_PAGE_SIZE / 2)

struct kva;

int kva_init(struct kva **a, char *base, kvs_off_t heap_off, uint64_t heap_size);
void kva_destroy(struct kva *a);

/*
 * kva_alloc - @size bytes from the heap; 0 if the heap is full.
 * The chunk is 8-byte aligned, and 64-byte aligned when @size is a power
 * of two of at least 64.
 */
kvs_off_t kva_alloc(struct kva *a, size_t size);
void kva_free(struct kva *a, kvs_off_t off);

/*
 * kva_sparse_page - the item page (one serving a size class for items)
 * with the fewest bytes in chunks in use, at least one (the first found
 * of those), other than the @nskip pages at offsets @skip: its offset,
 * chunk size, and how many of its chunks were ever handed out (the rest
 * were never used). For the evictor: evicting what lives there gives a
 * whole page back to the pool at the cost of the fewest bytes of data.
 * Pages of bucket arrays are never named: they cannot be evicted. -ENOENT
 * if there is no such page. Scans every page under the lock; the answer
 * may be stale as soon as the lock is dropped.
 */
int kva_sparse_page(struct kva *a, const kvs_off_t *skip, unsigned int nskip,
		    kvs_off_t *off, uint32_t *size, uint32_t *nchunks);

/*
 * kva_sparse_run - the @n contiguous pages, free or item pages (no large
 * run and no page of bucket arrays among them), with the fewest bytes in
 * chunks in use: the offset of the first. For the evictor, when pages are
 * free but no run of them is long enough for a large object or a bucket
 * array. -ENOENT if there is none. Scans every page under the lock.
 */
int kva_sparse_run(struct kva *a, uint32_t n, kvs_off_t *off);

/*
 * kva_page_info - for the page at @off: if it is an item page (serves a
 * size class for items), its chunk size and how many chunks were ever
 * handed out, and 0; else -ENOENT (free, in a large run, or serving
 * bucket arrays).
 */
int kva_page_info(struct kva *a, kvs_off_t off, uint32_t *size,
		  uint32_t *nchunks);

/*
 * kva_alloc_n - kva_alloc() of @size[i] bytes into @off[i] for each of
 * @n requests, under one hold of the lock (for loaders on several threads,
 * which would otherwise meet on it once per item). A @size of 0 is
 * skipped (@off 0); a request that does not fit gets 0, as from
 * kva_alloc(), and the others are still served.
 */
void kva_alloc_n(struct kva *a, const size_t *size, kvs_off_t *off,
		 unsigned int n);

/* Bytes a request of @size really takes (its class or page run). */
size_t kva_chunk_size(size_t size);

/*
 * kva_alloc_align - @size bytes at an offset that is a multiple of @align
 * (a power of two, at most KVA_PAGE_SIZE), for bucket arrays: from the
 * smallest size class whose chunks are multiples of @align (chunks sit at
 * multiples of their size from the start of their page or slab), then,
 * between 32 KiB and 512 KiB, from the array classes, whose slabs span
 * several pages; else from whole pages (also when no slab fits). Only
 * pages that serve arrays are used: never a free chunk of an item page,
 * though the class is the same. Freed with kva_free(). 0 if the heap is
 * full.
 */
kvs_off_t kva_alloc_align(struct kva *a, size_t size, size_t align);

/*
 * kva_set_release - call @fn(@arg, off, bytes), from kva_free() and
 * under the allocator's lock (so that no new array can take the pages
 * before @fn is done with them; @fn must not call the allocator), when
 * pages that served kva_alloc_align() (array pages: a page, slab or run)
 * return to the pool: kvshmd then gives back the access-hint words that
 * shadowed the bucket arrays there (daemon/hints.h). Set before the heap
 * is used.
 */
typedef void (*kva_release_fn)(void *arg, kvs_off_t off, uint64_t bytes);
void kva_set_release(struct kva *a, kva_release_fn fn, void *arg);

/*
 * kva_hold - hold back (@on) freed pages from the pool, or let them go.
 *
 * While held, a class page (or slab) whose last chunk is freed stays with
 * its class and kind, wholly free on that kind's partial list: only an
 * allocation of the same class and kind takes it again. A freed large
 * run, of items or of an array, is parked: only an allocation of the same
 * kind and exactly its length in pages takes it again. Neither returns to
 * the pool, and the release hook is not called for them. kva_hold(@a,
 * false) returns every such page and run to the pool, calling the release
 * hook for array pages as kva_free() would have. Idempotent: holding a
 * held heap, or lifting a hold that is not there, does nothing. Any
 * thread; under the allocator's lock.
 *
 * For the reclaim thread: it holds the heap (before the next kva_free())
 * while some reader slot has been revoked, and lifts the hold once no
 * revoked reader remains. A revoked reader may be stuck rather than gone,
 * and may still read memory freed after its revocation, since grace
 * periods no longer wait for it. Kinds keep a page out of the pool to one
 * kind; the hold keeps freed pages from passing through the pool to the
 * other kind, so such a reader finds only items where items were (and
 * bucket arrays where arrays were). The cost is memory: held pages serve
 * no other class (pages_held in struct kva_stats).
 */
void kva_hold(struct kva *a, bool on);

/* Whether the heap is held now; any thread, no lock (a hint: the hold may
 * be lifted or set right after). */
bool kva_held(const struct kva *a);

/* Bytes kva_alloc_align() takes for @size and @align; 0 if @size is 0. */
size_t kva_chunk_size_align(size_t size, size_t align);

/*
 * A consistent copy of the heap's counters (taken under its lock). Pages
 * not free serve either one size class or a large run, or are a run
 * parked by kva_hold(); the bytes of the first and last not in chunks in
 * use are the heap's fragmentation (held pages count there):
 * (pages_total - pages_free - pages_large) * KVA_PAGE_SIZE
 *	- (used - pages_large * KVA_PAGE_SIZE).
 */
struct kva_stats {
	uint64_t used;		/* bytes in allocated chunks and runs */
	uint64_t limit;		/* heap bytes */
	uint64_t pages_free;	/* in the pool */
	uint64_t pages_total;
	uint64_t pages_large;	/* pages in large runs (all in use) */
	uint64_t pages_held;	/* wholly free but held back (kva_hold()):
				 * class pages and slabs with no chunk in
				 * use, and parked runs; 0 when not held */
};
void kva_get_stats(struct kva *a, struct kva_stats *st);

/* One size class that holds at least one page. */
struct kva_class_stats {
	uint32_t size;		/* chunk bytes */
	uint32_t pages;		/* pages serving the class (held ones too) */
	uint64_t chunks;	/* chunks in use */
	uint64_t capacity;	/* chunks its pages hold */
};

/*
 * kva_get_classes - fill @cs with up to @max of the size classes that
 * hold pages now, smallest first (one lock hold: a consistent copy).
 * Return how many classes hold pages (may exceed @max).
 */
unsigned int kva_get_classes(struct kva *a, struct kva_class_stats *cs,
			     unsigned int max);

/* How many size classes there are at most (for kva_get_classes()). */
#define KVA_NCLASSES_MAX	256

/* Bytes allocated now, and the heap's size: no lock, a relaxed load (for
 * the evictor's watermark check after each allocation). */
uint64_t kva_used(struct kva *a);
uint64_t kva_limit(struct kva *a);

#endif /* KVD_ALLOC_H */
