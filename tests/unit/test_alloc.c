// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_alloc.c - kvshmd's heap: sizes, alignment, exhaustion,
 * that freeing everything returns used memory exactly to zero, the
 * evictor's choice of the sparsest page, that item and array memory
 * never trade places while out of the pool, and that a hold keeps freed
 * pages from it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "../tap.h"

#define HEAP	(4U << 20)
#define PAGE_OF(off)	((off) & ~(kvs_off_t)(KVA_PAGE_SIZE - 1))

/* Whether @off is in the page of one of the @n chunks at @on (0s aside). */
static int on_pages(kvs_off_t off, const kvs_off_t *on, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (on[i] && PAGE_OF(off) == PAGE_OF(on[i]))
			return 1;
	return 0;
}

/* The page (or run of pages) with the fewest bytes in use goes first;
 * large runs never. */
static void test_sparse_page(struct kva *a)
{
	kvs_off_t small[20], mid, half, run, page, skip[3];
	uint32_t size, n;
	unsigned int i;

	for (i = 0; i < 20; i++)
		small[i] = kva_alloc(a, 100);		/* ~2 KiB in one page */
	mid = kva_alloc(a, 1000);			/* ~1 KiB in another */
	half = kva_alloc(a, KVA_MAX_CLASS);		/* 32 KiB in a third */
	run = kva_alloc(a, 2 * KVA_PAGE_SIZE);
	ok(kva_sparse_page(a, NULL, 0, &page, &size, &n) == 0 &&
	   page == (mid & ~(kvs_off_t)(KVA_PAGE_SIZE - 1)) &&
	   size == kva_chunk_size(1000) && n == 1,
	   "the sparsest page is the one with the fewest bytes in use");
	skip[0] = page;
	ok(kva_sparse_page(a, skip, 1, &page, &size, &n) == 0 &&
	   page == (small[0] & ~(kvs_off_t)(KVA_PAGE_SIZE - 1)) &&
	   size == kva_chunk_size(100) && n == 20,
	   "skipping it, the next sparsest, with its chunks handed out");
	skip[1] = page;
	ok(kva_sparse_page(a, skip, 2, &page, &size, &n) == 0 &&
	   page == (half & ~(kvs_off_t)(KVA_PAGE_SIZE - 1)),
	   "then the half-page chunk's page");
	skip[2] = page;
	ok(kva_sparse_page(a, skip, 3, &page, &size, &n) == -ENOENT,
	   "a large run is never offered");
	ok(kva_page_info(a, skip[0], &size, &n) == 0 &&
	   size == kva_chunk_size(1000) && n == 1 &&
	   kva_page_info(a, run, &size, &n) == -ENOENT,
	   "page info: a class page's chunk size and chunks; none for a run");
	ok(kva_sparse_run(a, 2, &page) == 0 &&
	   kva_page_info(a, page, &size, &n) == -ENOENT &&
	   kva_page_info(a, page + KVA_PAGE_SIZE, &size, &n) == -ENOENT,
	   "the cheapest two-page run is two free pages");
	ok(kva_sparse_run(a, HEAP / KVA_PAGE_SIZE, &page) == -ENOENT,
	   "no run may cross a large run");
	for (i = 0; i < 20; i++)
		kva_free(a, small[i]);
	kva_free(a, mid);
	kva_free(a, half);
	kva_free(a, run);
}

/*
 * Bucket arrays between 32 KiB and 512 KiB come from slabs of several
 * pages, not from whole pages; slabs are never offered to the evictor;
 * with no run free for a slab, an array still gets whole pages.
 */
static void test_array_slabs(struct kva *a, char *base)
{
	const size_t want = 40 * 1024 - 100;	/* 39 KiB: 610 buckets */
	kvs_off_t arr[16], pg[HEAP / KVA_PAGE_SIZE], page, one;
	struct kva_stats st0, st;
	uint32_t size, n;
	unsigned int i, j, good = 1;

	ok(kva_chunk_size_align(want, 64) == 40 * 1024 &&
	   kva_chunk_size_align(KVA_PAGE_SIZE, 64) == KVA_PAGE_SIZE &&
	   kva_chunk_size_align(600 * 1024, 64) == 640 * 1024 &&
	   kva_chunk_size_align(300, 64) % 64 == 0,
	   "an array of 39 KiB takes a 40 KiB chunk; page multiples and arrays "
	   "past 480 KiB take whole pages; small ones 64-byte classes");
	kva_get_stats(a, &st0);
	for (i = 0; i < 16; i++) {
		arr[i] = kva_alloc_align(a, want, 64);
		if (!arr[i] || arr[i] % 64)
			good = 0;
		else
			memset(base + arr[i], 0x5a, want);
		for (j = 0; j < i && good; j++)
			if (arr[i] < arr[j] + 40 * 1024 &&
			    arr[j] < arr[i] + 40 * 1024)
				good = 0;
	}
	kva_get_stats(a, &st);
	ok(good && st.used == st0.used + 16 * 40 * 1024 &&
	   st0.pages_free - st.pages_free == 10,
	   "16 such arrays, aligned and apart, take 10 pages (2 slabs of 5), "
	   "not 16 (%llu)",
	   (unsigned long long)(st0.pages_free - st.pages_free));
	ok(kva_sparse_page(a, NULL, 0, &page, &size, &n) == -ENOENT &&
	   kva_page_info(a, arr[0] & ~(kvs_off_t)(KVA_PAGE_SIZE - 1), &size,
			 &n) == -ENOENT &&
	   kva_sparse_run(a, HEAP / KVA_PAGE_SIZE, &page) == -ENOENT,
	   "a slab's pages are neither offered to the evictor nor crossed by a "
	   "run");
	for (i = 0; i < 16; i++)
		kva_free(a, arr[i]);
	kva_get_stats(a, &st);
	ok(st.used == st0.used && st.pages_free == st0.pages_free,
	   "freeing them returns every byte and page");

	/* Every other page taken: single pages free, no run of five. */
	for (i = 0; i < HEAP / KVA_PAGE_SIZE; i++)
		pg[i] = kva_alloc(a, KVA_PAGE_SIZE);
	for (i = 0; i < HEAP / KVA_PAGE_SIZE; i += 2)
		kva_free(a, pg[i]);
	one = kva_alloc_align(a, want, 64);
	ok(one && one % KVA_PAGE_SIZE == 0,
	   "with no room for a slab, an array takes a whole page");
	kva_free(a, one);
	for (i = 1; i < HEAP / KVA_PAGE_SIZE; i += 2)
		kva_free(a, pg[i]);
	kva_get_stats(a, &st);
	ok(st.used == 0 && st.pages_free == st.pages_total,
	   "and the heap is empty again");
}

/* What the release hook was told (kva_set_release()). */
static kvs_off_t rel_off;
static uint64_t rel_bytes, rel_sum;
static unsigned int rel_calls;

static struct kva *race_heap;
static int hook_done, alloc_during_hook, racer_started;

/* Another thread's array allocation, racing a release in progress. */
static void *alloc_racer(void *arg)
{
	kvs_off_t off = kva_alloc_align(race_heap, 40 * 1024, 64);

	(void)arg;
	if (!__atomic_load_n(&hook_done, __ATOMIC_ACQUIRE))
		alloc_during_hook = 1;
	if (off)
		kva_free(race_heap, off);
	return NULL;
}

static void on_release(void *arg, kvs_off_t off, uint64_t bytes)
{
	pthread_t *racer = arg;

	rel_off = off;
	rel_bytes = bytes;
	rel_sum += bytes;
	rel_calls++;
	/* Once: the racer's own free of its array comes back here. */
	if (racer && !__atomic_exchange_n(&racer_started, 1, __ATOMIC_RELAXED)) {
		/* While the words are being given back, no new array may
		 * take the pages (it would have its words wiped). */
		pthread_create(racer, NULL, alloc_racer, NULL);
		usleep(50000);
		__atomic_store_n(&hook_done, 1, __ATOMIC_RELEASE);
	}
}

/*
 * Pages that served kva_alloc_align() (bucket arrays) are reported when
 * they return to the pool, once, with their offset and size; pages that
 * only ever held items are not.
 */
static void test_release_hook(struct kva *a)
{
	kvs_off_t arr, slab_arr[8], item;
	pthread_t racer;
	unsigned int i;

	kva_set_release(a, on_release, NULL);
	item = kva_alloc(a, 130);
	kva_free(a, item);
	ok(rel_calls == 0, "a page that held only items is not reported");

	arr = kva_alloc_align(a, 8 * KVA_PAGE_SIZE + 64, 64);	/* > 480 KiB */
	kva_free(a, arr);
	ok(rel_calls == 1 && rel_off == arr && rel_bytes == 9 * KVA_PAGE_SIZE,
	   "an array's page run is reported when freed (%u, %llu bytes)",
	   rel_calls, (unsigned long long)rel_bytes);

	rel_calls = 0;
	for (i = 0; i < 8; i++)
		slab_arr[i] = kva_alloc_align(a, 40 * 1024, 64);
	for (i = 0; i < 7; i++)
		kva_free(a, slab_arr[i]);
	ok(rel_calls == 0, "a slab is not reported while one array remains");
	kva_free(a, slab_arr[7]);
	ok(rel_calls == 1 && rel_bytes % KVA_PAGE_SIZE == 0 &&
	   rel_off <= slab_arr[0] && rel_off + rel_bytes >= slab_arr[7] + 40 * 1024,
	   "then the whole slab is, once");
	item = kva_alloc(a, 130);
	kva_free(a, item);
	ok(rel_calls == 1, "and not again after it served items");

	race_heap = a;
	arr = kva_alloc_align(a, 8 * KVA_PAGE_SIZE + 64, 64);
	kva_set_release(a, on_release, &racer);
	kva_free(a, arr);
	pthread_join(racer, NULL);	/* its free may call the hook too */
	kva_set_release(a, NULL, NULL);
	ok(hook_done && !alloc_during_hook,
	   "no allocation completes while the release of freed pages runs");
}

/*
 * Kinds: in a class that items and arrays share, a page that serves
 * items never serves an array while it is out of the pool, nor the
 * reverse, though it has free chunks; the evictor is offered item pages
 * only.
 */
static void test_kinds(struct kva *a)
{
	enum { N = 3 * KVA_PAGE_SIZE / 1024 };	/* 1 KiB: three pages */
	kvs_off_t item[N], arr[N / 2], page;
	struct kva_stats st;
	uint32_t size, n;
	unsigned int i, apart = 1;

	ok(kva_chunk_size(1024) == 1024 &&
	   kva_chunk_size_align(1024, 64) == 1024,
	   "items and arrays of 1 KiB share a size class");
	for (i = 0; i < N; i++)
		item[i] = kva_alloc(a, 1024);
	for (i = 1; i < N; i += 2) {		/* every page half free */
		kva_free(a, item[i]);
		item[i] = 0;
	}
	for (i = 0; i < N / 2; i++) {
		arr[i] = kva_alloc_align(a, 1024, 64);
		if (!arr[i] || on_pages(arr[i], item, N))
			apart = 0;
	}
	ok(apart, "arrays never take the chunks freed in item pages");

	for (i = 0; i < N; i += 2)		/* item pages back to the pool */
		kva_free(a, item[i]);
	for (i = 1; i < N / 2; i += 2) {	/* array pages half free */
		kva_free(a, arr[i]);
		arr[i] = 0;
	}
	for (i = 0; i < N / 2; i++) {
		item[i] = kva_alloc(a, 1024);
		if (!item[i] || on_pages(item[i], arr, N / 2))
			apart = 0;
	}
	ok(apart, "items never take the chunks freed in array pages");
	/* Items: a full page, a half page; arrays: 32 KiB, 16 KiB. */
	ok(kva_sparse_page(a, NULL, 0, &page, &size, &n) == 0 &&
	   page == PAGE_OF(item[N / 2 - 1]) &&
	   kva_page_info(a, PAGE_OF(arr[N / 2 - 2]), &size, &n) == -ENOENT,
	   "the evictor is offered the sparsest item page, not the sparser "
	   "array page");
	for (i = 0; i < N / 2; i++) {
		kva_free(a, item[i]);
		if (arr[i])
			kva_free(a, arr[i]);
	}
	kva_get_stats(a, &st);
	ok(st.used == 0 && st.pages_free == st.pages_total,
	   "freed, every page is back in the pool");
}

/*
 * The hold: pages freed whole stay out of the pool, with their class and
 * kind, until it is lifted; then they return, and the release hook runs
 * for array pages, not before.
 */
static void test_hold(struct kva *a)
{
	enum { PER_PAGE = KVA_PAGE_SIZE / 1024 };
	kvs_off_t item[PER_PAGE], arr[4], slab, run_arr, run_item, x, y;
	kvs_off_t page;
	struct kva_stats st0, st1, st;
	uint32_t size, n;
	unsigned int i;

	kva_set_release(a, on_release, NULL);
	rel_calls = 0;
	rel_sum = 0;
	kva_get_stats(a, &st0);
	kva_hold(a, false);		/* not held: nothing to let go */
	kva_hold(a, true);
	kva_hold(a, true);		/* twice: as once */
	for (i = 0; i < PER_PAGE; i++)
		item[i] = kva_alloc(a, 1024);		/* one full page */
	for (i = 0; i < 4; i++)
		arr[i] = kva_alloc_align(a, 1024, 64);	/* one page */
	slab = kva_alloc_align(a, 40 * 1024, 64);	/* a slab: 5 pages */
	run_arr = kva_alloc_align(a, 8 * KVA_PAGE_SIZE + 64, 64);  /* 9 */
	run_item = kva_alloc(a, 2 * KVA_PAGE_SIZE);		/* 2 */
	kva_get_stats(a, &st1);
	for (i = 0; i < PER_PAGE; i++)
		kva_free(a, item[i]);
	for (i = 0; i < 4; i++)
		kva_free(a, arr[i]);
	kva_free(a, slab);
	kva_free(a, run_arr);
	kva_free(a, run_item);
	kva_get_stats(a, &st);
	ok(st1.pages_free == st0.pages_free - 18 && st.used == 0 &&
	   st.pages_free == st1.pages_free && st.pages_held == 18 &&
	   st.pages_large == 0,
	   "held, the pages freed whole stay out of the pool (%llu held)",
	   (unsigned long long)st.pages_held);
	ok(rel_calls == 0, "held, no release is reported");
	ok(kva_sparse_page(a, NULL, 0, &page, &size, &n) == -ENOENT,
	   "a held page with no chunk in use is not offered to the evictor");

	y = kva_alloc_align(a, 1024, 64);
	ok(y && PAGE_OF(y) != PAGE_OF(item[0]) && PAGE_OF(y) == PAGE_OF(arr[0]),
	   "an array takes the held array page, never the held item page");
	x = kva_alloc(a, 1024);
	kva_get_stats(a, &st);
	ok(x && PAGE_OF(x) == PAGE_OF(item[0]) && st.pages_held == 16 &&
	   st.pages_free == st1.pages_free,
	   "an item of the same class takes the held item page");
	kva_free(a, x);
	kva_free(a, y);

	y = kva_alloc_align(a, 2 * KVA_PAGE_SIZE, 64);	/* whole pages */
	kva_get_stats(a, &st);
	ok(y && y != run_item && kva_chunk_size_align(2 * KVA_PAGE_SIZE, 64) ==
	   2 * KVA_PAGE_SIZE && st.pages_held == 18,
	   "an array of two pages does not take the parked item run");
	kva_free(a, y);					/* parked too */
	x = kva_alloc(a, 2 * KVA_PAGE_SIZE);
	ok(x == run_item, "an item run of the same length does");
	kva_free(a, x);
	kva_get_stats(a, &st);
	ok(st.used == 0 && st.pages_held == 20 && rel_calls == 0,
	   "everything freed again, still held (%llu), nothing reported",
	   (unsigned long long)st.pages_held);

	kva_hold(a, false);
	kva_get_stats(a, &st);
	ok(st.pages_free == st0.pages_free && st.pages_held == 0 &&
	   st.used == 0 && kva_get_classes(a, NULL, 0) == 0,
	   "lifted, every held page returns to the pool");
	ok(rel_calls == 4 && rel_sum == (1 + 5 + 9 + 2) * KVA_PAGE_SIZE,
	   "and array pages are reported then: a page, a slab, two runs "
	   "(%u calls, %llu bytes)", rel_calls, (unsigned long long)rel_sum);
	kva_hold(a, false);
	kva_get_stats(a, &st);
	ok(st.pages_free == st0.pages_free && st.pages_held == 0 &&
	   rel_calls == 4, "lifting it twice: as once");
	kva_set_release(a, NULL, NULL);
}

int main(void)
{
	struct kva_class_stats cs[KVA_NCLASSES_MAX];
	struct kva_stats st;
	unsigned int nc;
	struct kva *a;
	kvs_off_t offs[70000], big, o64;
	char *base;
	size_t n = 0, i;
	int aligned = 1, inside = 1, distinct = 1;

	plan_tests(51);
	base = aligned_alloc(KVA_PAGE_SIZE, HEAP + KVA_PAGE_SIZE);
	if (!base)
		bail_out("no memory");
	ok(kva_init(&a, base, KVA_PAGE_SIZE, HEAP) == 0, "a 4 MiB heap initialises");
	ok(kva_chunk_size(136) >= 136 && kva_chunk_size(136) <= 144,
	   "a 136-byte item wastes at most 8 bytes");
	ok(kva_chunk_size(1) == 16, "the smallest chunk is 16 bytes");
	ok(kva_chunk_size(KVA_PAGE_SIZE + 1) == 2 * KVA_PAGE_SIZE,
	   "a large object takes whole pages");

	o64 = kva_alloc(a, 1024);
	ok(o64 && o64 % 64 == 0, "a power-of-two chunk is cache-line aligned");
	kva_free(a, o64);

	offs[0] = kva_alloc(a, 100);
	offs[1] = kva_alloc(a, 100);
	offs[2] = kva_alloc(a, 2 * KVA_PAGE_SIZE);
	nc = kva_get_classes(a, cs, KVA_NCLASSES_MAX);
	kva_get_stats(a, &st);
	ok(nc == 1 && cs[0].size == kva_chunk_size(100) && cs[0].pages == 1 &&
	   cs[0].chunks == 2 && cs[0].capacity == KVA_PAGE_SIZE / cs[0].size,
	   "the stats show one page of the 100-byte class, two chunks in use");
	ok(st.pages_large == 2 && st.pages_free == st.pages_total - 3,
	   "a large run counts its pages apart from the classes'");
	for (i = 0; i < 3; i++)
		kva_free(a, offs[i]);
	kva_get_stats(a, &st);
	ok(kva_get_classes(a, cs, KVA_NCLASSES_MAX) == 0 &&
	   st.pages_large == 0 && st.pages_free == st.pages_total,
	   "freed, no class holds a page and no run is left");

	for (n = 0; n < 70000; n++) {
		size_t sz = 16 + (n * 37) % 400;

		offs[n] = kva_alloc(a, sz);
		if (!offs[n])
			break;
		if (offs[n] % 8)
			aligned = 0;
		if (offs[n] < KVA_PAGE_SIZE || offs[n] + sz > KVA_PAGE_SIZE + HEAP)
			inside = 0;
		memset(base + offs[n], 0xa5, sz);
	}
	ok(n > 0 && n < 70000, "the heap fills up and then refuses (%zu chunks)", n);
	ok(aligned && inside, "every chunk is 8-aligned and inside the heap");
	for (i = 1; i < n && i < 2000; i++)
		if (offs[i] == offs[i - 1])
			distinct = 0;
	ok(distinct, "consecutive chunks are distinct");
	ok(kva_alloc(a, 3 * KVA_PAGE_SIZE) == 0, "a large run fails on a full heap");
	for (i = 0; i < n; i++)
		kva_free(a, offs[i]);
	kva_get_stats(a, &st);
	ok(st.used == 0 && st.pages_free == st.pages_total,
	   "freeing everything returns every byte and page");

	big = kva_alloc(a, HEAP - KVA_PAGE_SIZE);
	ok(big != 0, "emptied small-class pages serve a large run");
	kva_get_stats(a, &st);
	ok(st.used == HEAP - KVA_PAGE_SIZE, "a run is accounted in whole pages");
	kva_free(a, big);
	kva_get_stats(a, &st);
	ok(st.used == 0, "and returns to zero when freed");
	test_sparse_page(a);
	test_array_slabs(a, base);
	test_release_hook(a);
	test_kinds(a);
	test_hold(a);
	kva_destroy(a);
	free(base);
	return exit_status();
}
