/* SPDX-License-Identifier: MIT */
/*
 * shm/hint.h - the access hint: one 32-bit word per key in the rw area,
 * left by readers for kvshmd's eviction policies.
 *
 *	bits  0..7   logarithmic access counter (Redis-style LFU): starts at
 *		     KVS_HINT_FREQ_INIT, grows with probability
 *		     1 / ((f - INIT) * KVS_HINT_LOG_FACTOR + 1), saturates at 255
 *	bit   8      visited (CLOCK/SIEVE-style policies clear it)
 *	bits  9..31  last access, in ticks of KVS_HINT_TICK_MS of
 *		     CLOCK_REALTIME, mod 2^23 (wraps after about 6 days)
 *
 * The tick is fine enough that LRU can tell apart accesses a fraction of
 * a second apart (a working set that moves within seconds), and coarse
 * enough that a hot key's word changes at most ~16 times a second.
 *
 * Writers: any reader of the key (relaxed store, and only when the word
 * would change, so hot keys do not bounce the line between cores) and
 * kvshmd (an initial value before it publishes a key into the word's
 * bucket entry, the key's old word when a shard grows and its keys move,
 * both under the shard lock and before the entry's release store;
 * clearing the visited bit, by its policies). Readers of the word: kvshmd's
 * policies. Races between writers lose an update at worst: a hint skews
 * eviction, it never affects data.
 */
#ifndef KVS_HINT_H
#define KVS_HINT_H

#include <stdint.h>

#define KVS_HINT_FREQ_MASK	0xffU
#define KVS_HINT_VISITED	0x100U
#define KVS_HINT_TIME_SHIFT	9
#define KVS_HINT_TIME_MASK	0x7fffffU	/* 23 bits of ticks */
#define KVS_HINT_TICK_SHIFT	6		/* a tick: 2^6 ms */
#define KVS_HINT_TICK_MS	(1U << KVS_HINT_TICK_SHIFT)
#define KVS_HINT_FREQ_INIT	5
#define KVS_HINT_LOG_FACTOR	10

/* The hint clock at CLOCK_REALTIME @ms, in ticks. */
static inline uint32_t kvs_hint_ticks(int64_t ms)
{
	return (uint32_t)((uint64_t)ms >> KVS_HINT_TICK_SHIFT);
}

static inline uint32_t kvs_hint_make(uint32_t freq, uint32_t now)
{
	return ((now & KVS_HINT_TIME_MASK) << KVS_HINT_TIME_SHIFT) |
	       (freq & KVS_HINT_FREQ_MASK);
}

static inline uint32_t kvs_hint_freq(uint32_t w)
{
	return w & KVS_HINT_FREQ_MASK;
}

static inline uint32_t kvs_hint_time(uint32_t w)
{
	return w >> KVS_HINT_TIME_SHIFT;
}

/* Ticks from the access recorded in @w to the clock @now (mod 2^23). */
static inline uint32_t kvs_hint_idle(uint32_t w, uint32_t now)
{
	return (now - kvs_hint_time(w)) & KVS_HINT_TIME_MASK;
}

/*
 * kvs_hint_touch - the word after one more access at clock @now (ticks),
 * given a uniform random @rnd. Equal to @old when nothing would change
 * (visited already set, same tick, counter not incremented this time).
 */
static inline uint32_t kvs_hint_touch(uint32_t old, uint32_t now, uint32_t rnd)
{
	uint32_t f = old & KVS_HINT_FREQ_MASK;
	uint32_t w = KVS_HINT_VISITED |
		     ((now & KVS_HINT_TIME_MASK) << KVS_HINT_TIME_SHIFT) | f;

	if (f < 255) {
		uint32_t base = f > KVS_HINT_FREQ_INIT ? f - KVS_HINT_FREQ_INIT : 0;

		/* true with probability 1 / (base * factor + 1) */
		if ((uint64_t)rnd * (base * KVS_HINT_LOG_FACTOR + 1) < (1ULL << 32))
			w++;
	}
	return w;
}

#endif /* KVS_HINT_H */
