// SPDX-License-Identifier: MIT
/*
 * daemon/hints.c - giving back the hint words of retired bucket arrays
 * (see hints.h).
 */
#include <sys/mman.h>
#include <unistd.h>

#include "hints.h"
#include "layout.h"

void kvd_hints_release(void *arg, uint64_t off, uint64_t bytes)
{
	const struct kvd_hints *h = arg;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t first = kvs_hint_index(off, 0, 0);
	uint64_t n = bytes / sizeof(struct kvs_bucket) * KVS_BUCKET_ENTRIES;
	uintptr_t lo, hi;

	if (!h || !h->words || first >= h->nwords || n > h->nwords - first)
		return;
	lo = (uintptr_t)&h->words[first];
	hi = (uintptr_t)&h->words[first + n];
	lo = (lo + page - 1) & ~(uintptr_t)(page - 1);
	hi &= ~(uintptr_t)(page - 1);
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_REMOVE);
}
