/* SPDX-License-Identifier: MIT */
/*
 * daemon/hist.h - a fixed-bucket latency histogram for kvshmd's stats
 * (WAL fsync, grace periods), in microseconds.
 *
 * The bucket bounds are the same for every histogram and never change
 * (they are part of the stats names: NAME_le_BOUND), in 1-2.5-5 steps from
 * 10 us to 10 s, plus one bucket for everything slower. The counts are
 * kept per bucket; kvd_hist_read() makes them cumulative, as Prometheus
 * wants, and derives the total count from the very buckets it read, so the
 * copy is self-consistent (+Inf equals the count) even while samples are
 * being added. Only @sum_us may then be one sample ahead or behind.
 *
 * Atomicity: any thread may add (relaxed atomic add per bucket and to the
 * sum, compare-and-swap for the max); any thread may read (relaxed
 * loads). No lock; daemon-private, never in shared memory.
 */
#ifndef KVD_HIST_H
#define KVD_HIST_H

#include <stdint.h>

#define KVD_HIST_BOUNDS	19		/* finite upper bounds */
#define KVD_HIST_NB	(KVD_HIST_BOUNDS + 1)	/* + the overflow bucket */

/* Upper bounds (inclusive), in microseconds: 10, 25, 50, 100, ... 10e6. */
extern const uint64_t kvd_hist_le_us[KVD_HIST_BOUNDS];

struct kvd_hist {
	uint64_t n[KVD_HIST_NB];	/* samples per bucket (not cumulative);
					 * any thread: relaxed atomic add */
	uint64_t sum_us;		/* any thread: relaxed atomic add */
	uint64_t max_us;		/* any thread: relaxed CAS to grow */
};

/* A copy for the stats text: cumulative counts. */
struct kvd_hist_snap {
	uint64_t le[KVD_HIST_NB];	/* samples <= each bound; last: all */
	uint64_t count;			/* == le[KVD_HIST_NB - 1] */
	uint64_t sum_us;
	uint64_t max_us;
};

void kvd_hist_add(struct kvd_hist *h, uint64_t us);
void kvd_hist_read(const struct kvd_hist *h, struct kvd_hist_snap *s);

/* Monotonic microseconds, for timing what goes into a histogram. */
int64_t kvd_mono_us(void);

#endif /* KVD_HIST_H */
