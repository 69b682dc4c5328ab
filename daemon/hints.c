// SPDX-License-Identifier: MIT
/*
 * daemon/hints.c - the hint-word allocator (see hints.h): a bump index for
 * words never used, then a stack of returned ones.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "hint.h"
#include "hints.h"
#include "log.h"

int kvd_hints_init(struct kvd_hints *h, uint32_t *words, uint32_t nwords)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->words = words;
	h->nwords = nwords;
	h->next = 1;			/* 0 = no hint */
	return 0;
}

void kvd_hints_destroy(struct kvd_hints *h)
{
	pthread_mutex_destroy(&h->lock);
	free(h->free);
	h->free = NULL;
}

/* One word, lock held. */
static uint32_t alloc_locked(struct kvd_hints *h, uint32_t now)
{
	uint32_t idx = 0;

	if (h->nfree)
		idx = h->free[--h->nfree];
	else if (h->next < h->nwords)
		idx = h->next++;
	if (idx) {
		h->used++;
		kvs_store_relaxed(&h->words[idx],
				  kvs_hint_make(KVS_HINT_FREQ_INIT, now));
	}
	return idx;
}

uint32_t kvd_hint_alloc(struct kvd_hints *h, uint32_t now)
{
	uint32_t idx;

	pthread_mutex_lock(&h->lock);
	idx = alloc_locked(h, now);
	pthread_mutex_unlock(&h->lock);
	return idx;
}

void kvd_hint_alloc_n(struct kvd_hints *h, uint32_t now, uint32_t *idx,
		      unsigned int n)
{
	unsigned int i;

	pthread_mutex_lock(&h->lock);
	for (i = 0; i < n; i++)
		idx[i] = alloc_locked(h, now);
	pthread_mutex_unlock(&h->lock);
}

void kvd_hint_free(struct kvd_hints *h, uint32_t idx)
{
	if (idx == 0)
		return;
	if (idx >= h->nwords)
		kvd_die("event=bad_hint_free idx=%u", idx);
	pthread_mutex_lock(&h->lock);
	if (h->nfree == h->cap) {
		uint32_t cap = h->cap ? h->cap * 2 : 1024;
		uint32_t *p = realloc(h->free, cap * sizeof(*p));

		if (!p) {
			/* Lose the index rather than the daemon: it is only
			 * a hint; the count of used words stays honest. */
			h->used--;
			pthread_mutex_unlock(&h->lock);
			kvd_log(LOG_WARNING, "event=hint_leak idx=%u", idx);
			return;
		}
		h->free = p;
		h->cap = cap;
	}
	h->free[h->nfree++] = idx;
	h->used--;
	pthread_mutex_unlock(&h->lock);
}

uint32_t kvd_hints_used(struct kvd_hints *h)
{
	uint32_t n;

	pthread_mutex_lock(&h->lock);
	n = h->used;
	pthread_mutex_unlock(&h->lock);
	return n;
}
