/* SPDX-License-Identifier: MIT */
/*
 * daemon/hints.h - allocation of access-hint words (shm/hint.h) to keys.
 *
 * A key gets a word when it is inserted, keeps it across replacements,
 * and gives it back after a grace period once removed (a reader may still
 * touch the word of a key it found just before the removal). Index 0 is
 * never handed out: it means "no hint" (also when all are in use).
 *
 * Thread-safe (one mutex). Daemon-private state; the words themselves are
 * in the rw area.
 */
#ifndef KVD_HINTS_H
#define KVD_HINTS_H

#include <pthread.h>
#include <stdint.h>

struct kvd_hints {
	pthread_mutex_t lock;
	uint32_t *words;		/* rw area, nwords */
	uint32_t nwords;
	uint32_t next;			/* next never-used index */
	uint32_t *free;			/* stack of returned indexes */
	uint32_t nfree, cap;
	uint32_t used;
};

int kvd_hints_init(struct kvd_hints *h, uint32_t *words, uint32_t nwords);
void kvd_hints_destroy(struct kvd_hints *h);

/* A word for a new key, set to its initial value; 0 if none is free. */
uint32_t kvd_hint_alloc(struct kvd_hints *h, uint32_t now);
/* @n words into @idx[] under one lock hold (0 for each one not free). */
void kvd_hint_alloc_n(struct kvd_hints *h, uint32_t now, uint32_t *idx,
		      unsigned int n);
void kvd_hint_free(struct kvd_hints *h, uint32_t idx);
uint32_t kvd_hints_used(struct kvd_hints *h);

#endif /* KVD_HINTS_H */
