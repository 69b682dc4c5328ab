/* SPDX-License-Identifier: MIT */
/*
 * tools/splitmix.h - the benchmark tools' one random generator
 * (splitmix64): a fixed seed gives the same run twice.
 */
#ifndef KVT_SPLITMIX_H
#define KVT_SPLITMIX_H

#include <stdint.h>

static inline uint64_t kvt_splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1), from the top 53 bits. */
static inline double kvt_unit(uint64_t *s)
{
	return (double)(kvt_splitmix(s) >> 11) / 9007199254740992.0;
}

#endif /* KVT_SPLITMIX_H */
