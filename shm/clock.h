/* SPDX-License-Identifier: MIT */
/*
 * shm/clock.h - the clock expiry times are measured on: CLOCK_REALTIME in
 * milliseconds, so an absolute expiry survives a daemon restart. On Linux
 * clock_gettime() is served by the vDSO: no system call on the read path.
 */
#ifndef KVS_CLOCK_H
#define KVS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t kvs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic milliseconds, for durations inside one process. */
static inline int64_t kvs_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif /* KVS_CLOCK_H */
