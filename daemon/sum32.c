// SPDX-License-Identifier: MIT
/*
 * daemon/sum32.c - XXH32 over a stream, through libxxhash's own build.
 *
 * The rest of the daemon inlines xxhash (shm/hash.h), which is right for
 * the short keys it hashes. XXH32 over megabytes is another matter: GCC
 * -O2 on baseline x86-64 (SSE2, no 32-bit vector multiply) vectorizes
 * XXH32's four lanes into a long shift-and-subtract sequence that ran at
 * a sixth of the scalar code's speed (xxhash guards against this only
 * under SSE4.1). Called through the shared library, it runs at its full
 * speed (8-9 GB/s here). Only this file includes xxhash.h without
 * XXH_INLINE_ALL.
 */
#include <xxhash.h>

#include "persist.h"

struct kvp_sum32 *kvp_sum32_new(void)
{
	XXH32_state_t *s = XXH32_createState();

	if (s && XXH32_reset(s, 0) != XXH_OK) {
		XXH32_freeState(s);
		s = NULL;
	}
	return (struct kvp_sum32 *)s;
}

void kvp_sum32_add(struct kvp_sum32 *s, const void *p, size_t n)
{
	XXH32_update((XXH32_state_t *)s, p, n);
}

uint32_t kvp_sum32_end(struct kvp_sum32 *s)
{
	uint32_t v = XXH32_digest((XXH32_state_t *)s);

	XXH32_freeState((XXH32_state_t *)s);
	return v;
}

void kvp_sum32_free(struct kvp_sum32 *s)
{
	if (s)
		XXH32_freeState((XXH32_state_t *)s);
}
