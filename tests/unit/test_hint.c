// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_hint.c - the access-hint word readers leave for eviction:
 * visited bit, coarse time, logarithmic counter, and no change (so no
 * store) when a touch would not change anything.
 */
#include <stdlib.h>

#include "hint.h"
#include "../tap.h"

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/*
 * Counters (0..254) whose growth does not follow the definition exactly:
 * a counter at f grows iff draw * k < 2^32, k = (f - INIT) * FACTOR + 1
 * (0 for f <= INIT), so at the largest such draw and not at the next.
 */
static int coin_errors(void)
{
	uint32_t f;
	int bad = 0;

	for (f = 0; f < 255; f++) {
		uint64_t k = (f > KVS_HINT_FREQ_INIT ? f - KVS_HINT_FREQ_INIT : 0) *
			     KVS_HINT_LOG_FACTOR + 1;
		uint64_t last = 0xffffffffULL / k;	/* largest draw that grows */
		uint32_t w = kvs_hint_make(f, 9) | KVS_HINT_VISITED;

		if (kvs_hint_freq(kvs_hint_touch(w, 9, (uint32_t)last)) != f + 1)
			bad++;
		if (last < 0xffffffffULL &&
		    kvs_hint_freq(kvs_hint_touch(w, 9, (uint32_t)last + 1)) != f)
			bad++;
	}
	return bad;
}

int main(void)
{
	uint32_t w0 = kvs_hint_make(KVS_HINT_FREQ_INIT, 1000), w, w1k, sat;
	int i, monotonic = 1;

	plan_tests(10);
	ok(kvs_hint_freq(w0) == KVS_HINT_FREQ_INIT && !(w0 & KVS_HINT_VISITED) &&
	   kvs_hint_time(w0) == 1000, "a new word: initial counter, not visited");
	w = kvs_hint_touch(w0, 1005, rnd());
	ok(w & KVS_HINT_VISITED, "a touch sets the visited bit");
	ok(kvs_hint_time(w) == 1005, "a touch records the access time");
	ok(kvs_hint_freq(w) == KVS_HINT_FREQ_INIT + 1,
	   "at the initial value the counter always grows");
	ok(kvs_hint_time(kvs_hint_touch(w, 70000, rnd())) == 70000 &&
	   kvs_hint_time(kvs_hint_touch(w, 0x800000 + 5, rnd())) == 5 &&
	   kvs_hint_idle(kvs_hint_make(1, 0x7ffffe), 3) == 5,
	   "the time wraps at 23 bits, and idle time across the wrap is right");

	w = w0;
	for (i = 0; i < 1000; i++) {
		uint32_t n = kvs_hint_touch(w, 1005, rnd());

		if (kvs_hint_freq(n) < kvs_hint_freq(w))
			monotonic = 0;
		w = n;
	}
	w1k = w;
	ok(monotonic && kvs_hint_freq(w1k) > KVS_HINT_FREQ_INIT + 5 &&
	   kvs_hint_freq(w1k) < 40,
	   "1000 touches grow the counter logarithmically (to %u)",
	   kvs_hint_freq(w1k));
	for (i = 0; i < 100000; i++)
		w = kvs_hint_touch(w, 1005, rnd());
	ok(kvs_hint_freq(w) > kvs_hint_freq(w1k),
	   "more touches grow it further (to %u)", kvs_hint_freq(w));

	sat = kvs_hint_make(255, 7) | KVS_HINT_VISITED;
	ok(kvs_hint_freq(kvs_hint_touch(sat, 7, 0)) == 255, "the counter saturates at 255");
	ok(kvs_hint_touch(sat, 7, rnd()) == sat,
	   "a touch that changes nothing returns the same word (no store)");
	ok(coin_errors() == 0, "at every count below 255 the counter grows "
	   "for exactly the draws d with d * k < 2^32");
	return exit_status();
}
