// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_expiry.c - the expiry sweep frees exactly the
 * expired keys, and its work follows the expired keys, not the stored
 * ones:
 *  - N keys without a TTL and M with short TTLs: after the TTLs pass the
 *    sweep removes exactly the M (readers never see them again), every
 *    one of the N is intact, and the sweep examined about M index
 *    entries, never anything near N (counted work, not time);
 *  - a key overwritten without a TTL, persisted, deleted or given a
 *    later expiry is not removed at its old time: its stale index entry
 *    is recognised and dropped;
 *  - every sweep removal is an expiration in stats (the hook count);
 *  - after a restart the index is rebuilt from the recovered table: keys
 *    with a TTL that come back from disk are in it and expire on time.
 * N = 200,000 and M = 20,000 by default; KVSHM_BIG=1 runs the full
 * 1,000,000 + 100,000. Waits poll stats with generous bounds.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../tap.h"

#define BATCH	1000

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Store keys PREFIX0..PREFIX(n-1) (value = key), TTL ttl_ms + i % 300. */
static int load(kvshm_t *c, const char *prefix, long n, int64_t ttl_ms)
{
	static char keys[BATCH][32];
	struct kvshm_kv kv[BATCH];
	long i, j;
	int rc;

	for (i = 0; i < n; i += BATCH) {
		for (j = 0; j < BATCH && i + j < n; j++) {
			int len = snprintf(keys[j], sizeof(keys[j]), "%s%ld",
					   prefix, i + j);

			kv[j].key = kv[j].val = keys[j];
			kv[j].klen = kv[j].vlen = (size_t)len;
			kv[j].ttl_ms = ttl_ms ? ttl_ms + (i + j) % 300 : 0;
		}
		if ((rc = kvshm_mset(c, kv, (size_t)j)) != 0) {
			diag("mset: %s", kvshm_strerror(rc));
			return -1;
		}
	}
	return 0;
}

/* How many of PREFIX0..PREFIX(n-1) read back with their own value. */
static long count_intact(kvshm_t *c, const char *prefix, long n)
{
	char key[32], buf[32];
	size_t vlen;
	long i, ok = 0;

	for (i = 0; i < n; i++) {
		int len = snprintf(key, sizeof(key), "%s%ld", prefix, i);

		if (kvshm_get(c, key, (size_t)len, buf, sizeof(buf), &vlen) == 0 &&
		    vlen == (size_t)len && memcmp(buf, key, vlen) == 0)
			ok++;
	}
	return ok;
}

int main(void)
{
	static const char *const args[] = { "--memory", "96M", NULL };
	static const char *const big_args[] = { "--memory", "256M", NULL };
	bool big = getenv("KVSHM_BIG") && strcmp(getenv("KVSHM_BIG"), "1") == 0;
	long n = big ? 1000000 : 200000, m = big ? 100000 : 20000;
	long long examined, stale0, exp0;
	struct test_daemon d;
	kvshm_t *c;
	int rc, i;

	plan_tests(19);
	start_kvshmd(&d, "expiry", big ? big_args : args);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot open");

	ok(load(c, "keep:", n, 0) == 0 && load(c, "ttl:", m, 300) == 0,
	   "%ld keys without a TTL and %ld with TTLs of 300-600 ms stored", n, m);
	/* Some may already be swept on a slow machine: every TTL key is
	 * either in the index or counted as expired (polled, since the two
	 * counters are read one after the other while the sweep runs). */
	for (i = 0; i < 2000; i++) {
		long long e1 = stat_of(c, "expirations");
		long long in = stat_of(c, "expiry_index_entries");

		if (e1 == stat_of(c, "expirations") && in + e1 == m)
			break;
		usleep(10000);
	}
	ok(i < 2000, "the expiry index holds exactly the %ld keys with a TTL "
	   "(less those already swept)", m);
	ok(wait_stat(c, "expirations", m),
	   "the sweep expires all %ld of them", m);
	ok(stat_of(c, "keys") == n, "exactly the %ld keys without a TTL remain", n);
	ok(count_intact(c, "ttl:", m) == 0, "no expired key can be read");
	ok(count_intact(c, "keep:", n) == n, "every key without a TTL reads back intact");
	examined = stat_of(c, "expiry_examined");
	ok(examined == m && stat_of(c, "expiry_swept") == m,
	   "the sweep examined %lld index entries for %ld expired keys",
	   examined, m);
	ok(examined < n / 4 && stat_of(c, "expiry_compacted") == 0,
	   "its work does not follow the %ld keys it never touched", n);
	ok(stat_of(c, "expiry_index_entries") == 0, "the index is empty again");
	diag("expiry lag: p99 %lld ms, max %lld ms (informative)",
	     stat_of(c, "expiry_lag_p99_ms"), stat_of(c, "expiry_lag_max_ms"));

	/* Stale entries: each of these had a TTL that no longer holds. */
	stale0 = stat_of(c, "expiry_stale");
	exp0 = stat_of(c, "expirations");
	rc = 0;
	for (i = 0; i < 100; i++) {
		char key[32];
		int len = snprintf(key, sizeof(key), "s%d", i);

		rc |= kvshm_set(c, key, (size_t)len, "old", 3, 200, 0);
		switch (i % 4) {
		case 0:		/* overwritten without a TTL */
			rc |= kvshm_set(c, key, (size_t)len, "new", 3, 0, 0);
			break;
		case 1:
			rc |= kvshm_persist(c, key, (size_t)len);
			break;
		case 2:		/* deleted, then stored again without */
			rc |= kvshm_del(c, key, (size_t)len);
			rc |= kvshm_set(c, key, (size_t)len, "new", 3, 0, 0);
			break;
		case 3:		/* a later expiry */
			rc |= kvshm_expire(c, key, (size_t)len, 600000);
			break;
		}
	}
	ok(rc == 0, "100 keys given a 200 ms TTL, then overwritten, persisted, "
	   "deleted or re-timed");
	ok(wait_stat(c, "expiry_stale", stale0 + 100),
	   "their 100 old index entries are recognised as stale");
	sleep_ms(100);
	ok(stat_of(c, "expirations") == exp0, "and none of the keys expired");
	rc = 0;
	for (i = 0; i < 100; i++) {
		char key[32];
		int len = snprintf(key, sizeof(key), "s%d", i);

		rc |= kvshm_exists(c, key, (size_t)len);
	}
	ok(rc == 0 && stat_of(c, "keys") == n + 100, "all 100 are still there");
	ok(stat_of(c, "expiry_index_entries") == 25,
	   "the index holds only the 25 live expiries");

	/* Lazy and swept expiry agree: a key read after its TTL is gone. */
	kvshm_set(c, "short", 5, "v", 1, 50, 0);
	ok(wait_stat(c, "expirations", exp0 + 1) &&
	   kvshm_exists(c, "short", 5) == KVSHM_ENOTFOUND,
	   "a single short TTL is swept too");

	/* Restart: the index comes back from the recovered table. */
	rc = load(c, "r:", 500, 2000);
	kvshm_close(c);
	rc |= term_kvshmd(&d);
	restart_kvshmd(&d, big ? big_args : args);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot reopen");
	ok(rc == 0 && stat_of(c, "expiry_index_entries") >= 25,
	   "after a restart the index holds the recovered keys' expiries (%lld)",
	   stat_of(c, "expiry_index_entries"));
	ok(wait_stat(c, "keys", n + 100),
	   "the 500 keys with a 2 s TTL are gone once it passes, the rest stay");
	ok(stat_of(c, "expiry_index_entries") == 25 &&
	   count_intact(c, "keep:", n) == n,
	   "only the 25 long expiries remain indexed; no other key was lost");

	kvshm_close(c);
	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	return exit_status();
}
