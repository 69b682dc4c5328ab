/* SPDX-License-Identifier: MIT */
/*
 * daemon/hints.h - kvshmd's view of the access-hint words (shm/hint.h).
 *
 * A key's word belongs to its bucket entry (kvs_hint_index()): the index
 * writes a fresh one when it places a key in an entry and copies the words
 * when a shard's keys move to a new array; the evictor reads them and
 * clears visited bits. Nothing is allocated per key. The words shadowing
 * heap pages that held arrays are given back to the system when those
 * pages return to the heap's pool (kvd_hints_release()), so the rw area
 * holds memory for about the arrays that exist, not for every place an
 * array ever was.
 */
#ifndef KVD_HINTS_H
#define KVD_HINTS_H

#include <stddef.h>
#include <stdint.h>

struct kvd_hints {
	uint32_t *words;		/* rw area, nwords; NULL: none */
	uint64_t nwords;
};

/* The word at @idx, or NULL if there is none. */
static inline uint32_t *kvd_hint_at(const struct kvd_hints *h, uint64_t idx)
{
	return h && h->words && idx < h->nwords ? &h->words[idx] : NULL;
}

/*
 * The heap's kva_release_fn (@arg: the struct kvd_hints): give back the
 * whole pages of the words shadowing @bytes of the segment
 * at offset @off (MADV_REMOVE on the shared rw object: the pages read as
 * zero afterwards). Called for heap pages no array uses any more, a grace
 * period after the last one was retired: no reader touches those words.
 */
void kvd_hints_release(void *arg, uint64_t off, uint64_t bytes);

#endif /* KVD_HINTS_H */
