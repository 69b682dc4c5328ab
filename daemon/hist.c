// SPDX-License-Identifier: MIT
/*
 * daemon/hist.c - fixed-bucket latency histograms (see hist.h).
 */
#include <stdbool.h>
#include <time.h>

#include "hist.h"

const uint64_t kvd_hist_le_us[KVD_HIST_BOUNDS] = {
	10, 25, 50, 100, 250, 500,
	1000, 2500, 5000, 10000, 25000, 50000,
	100000, 250000, 500000, 1000000, 2500000, 5000000,
	10000000,
};

void kvd_hist_add(struct kvd_hist *h, uint64_t us)
{
	uint64_t m = __atomic_load_n(&h->max_us, __ATOMIC_RELAXED);
	unsigned int b = 0;

	while (b < KVD_HIST_BOUNDS && us > kvd_hist_le_us[b])
		b++;
	__atomic_fetch_add(&h->n[b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->sum_us, us, __ATOMIC_RELAXED);
	while (us > m && !__atomic_compare_exchange_n(&h->max_us, &m, us, false,
						       __ATOMIC_RELAXED,
						       __ATOMIC_RELAXED))
		;
}

void kvd_hist_read(const struct kvd_hist *h, struct kvd_hist_snap *s)
{
	uint64_t acc = 0;
	unsigned int b;

	for (b = 0; b < KVD_HIST_NB; b++) {
		acc += __atomic_load_n(&h->n[b], __ATOMIC_RELAXED);
		s->le[b] = acc;
	}
	s->count = acc;
	s->sum_us = __atomic_load_n(&h->sum_us, __ATOMIC_RELAXED);
	s->max_us = __atomic_load_n(&h->max_us, __ATOMIC_RELAXED);
}

int64_t kvd_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
