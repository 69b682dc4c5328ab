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

/* Monotonic nanoseconds, for short waits and spins. */
static inline uint64_t kvs_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * kvs_deadline - the time @ms (>= 0) milliseconds from now on @clock, the
 * clock of the condition variable it is for, as pthread_cond_timedwait()
 * takes it.
 */
static inline struct timespec kvs_deadline(clockid_t clock, int64_t ms)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

#endif /* KVS_CLOCK_H */
