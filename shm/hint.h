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
 * kvs_hint_coin - the bound under which a uniform 32-bit draw grows a
 * counter at @f (0..255): the counter grows with probability
 * 1 / ((f - INIT) * KVS_HINT_LOG_FACTOR + 1) (base 0 up to INIT), which
 * is "draw * (base * factor + 1) < 2^32", that is "draw < 2^32 - 1
 * divided by (base * factor + 1), plus 1"; never at 255. A table of 256,
 * so that a hit on the read path pays one load and a compare for it
 * instead of a multiply and its setup.
 */
#define KVS_HINT_COIN_(f) \
	((f) >= 255 ? 0 : (uint64_t)0xffffffffU / \
	 (((f) > KVS_HINT_FREQ_INIT ? (f) - KVS_HINT_FREQ_INIT : 0) * \
	  KVS_HINT_LOG_FACTOR + 1) + 1)
#define KVS_HINT_COIN4_(f) KVS_HINT_COIN_(f), KVS_HINT_COIN_((f) + 1), \
	KVS_HINT_COIN_((f) + 2), KVS_HINT_COIN_((f) + 3)
#define KVS_HINT_COIN16_(f) KVS_HINT_COIN4_(f), KVS_HINT_COIN4_((f) + 4), \
	KVS_HINT_COIN4_((f) + 8), KVS_HINT_COIN4_((f) + 12)
#define KVS_HINT_COIN64_(f) KVS_HINT_COIN16_(f), KVS_HINT_COIN16_((f) + 16), \
	KVS_HINT_COIN16_((f) + 32), KVS_HINT_COIN16_((f) + 48)

static inline uint64_t kvs_hint_coin(uint32_t f)
{
	static const uint64_t bound[256] = {
		KVS_HINT_COIN64_(0), KVS_HINT_COIN64_(64),
		KVS_HINT_COIN64_(128), KVS_HINT_COIN64_(192),
	};

	return bound[f & KVS_HINT_FREQ_MASK];
}

/*
 * kvs_hint_touch - the word after one more access at clock @now (ticks),
 * given a uniform random @rnd. Equal to @old when nothing would change
 * (visited already set, same tick, counter not incremented this time).
 */
static inline uint32_t kvs_hint_touch(uint32_t old, uint32_t now, uint32_t rnd)
{
	uint32_t f = old & KVS_HINT_FREQ_MASK;

	return (KVS_HINT_VISITED |
		((now & KVS_HINT_TIME_MASK) << KVS_HINT_TIME_SHIFT) | f) +
	       (uint32_t)((uint64_t)rnd < kvs_hint_coin(f));
}

#endif /* KVS_HINT_H */
