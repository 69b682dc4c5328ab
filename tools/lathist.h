/* SPDX-License-Identifier: MIT */
/*
 * tools/lathist.h - the benchmark tools' latency histogram: buckets 1 ns
 * wide below KVT_HSUB ns, then KVT_HSUB of them to each power of two, so
 * that a bucket is at most 1/KVT_HSUB of its latency wide (16 ns from 512
 * to 1023 ns). A percentile is the lower edge of the bucket it falls in.
 */
#ifndef KVT_LATHIST_H
#define KVT_LATHIST_H

#include <stdint.h>

#define KVT_HSUB	32
#define KVT_HBUCKETS	(60 * KVT_HSUB)	/* 0..31 ns, then 2^5 .. 2^64 ns */

static inline unsigned int kvt_hist_bucket(uint64_t ns)
{
	unsigned int lg, b;

	if (ns < KVT_HSUB)
		return (unsigned int)ns;
	lg = 63 - (unsigned int)__builtin_clzll(ns);	/* >= 5 */
	b = (lg - 4) * KVT_HSUB +
	    ((unsigned int)(ns >> (lg - 5)) & (KVT_HSUB - 1));
	return b < KVT_HBUCKETS ? b : KVT_HBUCKETS - 1;
}

/* The smallest latency bucket @b holds. */
static inline uint64_t kvt_hist_floor(unsigned int b)
{
	unsigned int lg = b / KVT_HSUB + 4;

	if (b < KVT_HSUB)
		return b;
	return (uint64_t)(KVT_HSUB + b % KVT_HSUB) << (lg - 5);
}

/* The lower edge of the bucket holding the @p quantile of @hist; 0 if empty. */
static inline uint64_t kvt_hist_percentile(const uint64_t *hist, double p)
{
	uint64_t total = 0, acc = 0;
	unsigned int b;

	for (b = 0; b < KVT_HBUCKETS; b++)
		total += hist[b];
	for (b = 0; b < KVT_HBUCKETS; b++) {
		acc += hist[b];
		if (total && (double)acc >= p * (double)total)
			return kvt_hist_floor(b);
	}
	return 0;
}

#endif /* KVT_LATHIST_H */
