// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_ops.c - the read-modify-write and multi-key ops:
 * APPEND, GETDEL, GETSET, STRLEN, MGET, FLUSH, with their errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../lib/kv.h"
#include "../tap.h"

#define S(x) x, strlen(x)

int main(void)
{
	static const char *const args[] = { "--max-value", "16",
					     "--max-entries", "510", NULL };
	struct kvshm_limits lim;
	struct kvshm_kv two[2] = { { "e1", 2, "x", 1, 0 }, { "e2", 2, "x", 1, 0 } };
	char b1[8], b2[8], b3[2];
	struct kvshm_getv v[4] = {
		{ "m1", 2, b1, sizeof(b1), 0, 0 },
		{ "nope", 4, b2, sizeof(b2), 0, 0 },
		{ "m2", 2, b3, sizeof(b3), 0, 0 },
		{ "", 0, NULL, 0, 0, 0 },
	};
	struct test_daemon d;
	size_t n = 0, len = 0;
	uint64_t removed = 0;
	int64_t ttl;
	void *old;
	kvshm_t *c;
	int i;

	plan_tests(27);
	start_kvshmd(&d, "ops", args);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot open");

	ok(kvshm_append(c, S("a"), S("abc"), &n) == 0 && n == 3 && kv_has(c, "a", "abc"),
	   "append to a missing key creates it");
	ok(kvshm_append(c, S("a"), S("def"), &n) == 0 && n == 6 && kv_has(c, "a", "abcdef"),
	   "append adds to the end");
	kvshm_expire(c, S("a"), 100000);
	ok(kvshm_append(c, S("a"), S("g"), &n) == 0 &&
	   kvshm_ttl(c, S("a"), &ttl) == 0 && ttl > 0, "append keeps the expiry");
	ok(kvshm_append(c, S("a"), S("0123456789"), &n) == KVSHM_ETOOBIG &&
	   kv_has(c, "a", "abcdefg"),
	   "an append past the value limit is KVSHM_ETOOBIG and changes nothing");

	ok(kvshm_strlen(c, S("a"), &len) == 0 && len == 7, "strlen reads the length");
	ok(kvshm_strlen(c, S("zz"), &len) == KVSHM_ENOTFOUND, "strlen of a missing key is KVSHM_ENOTFOUND");

	ok(kvshm_getdel(c, S("a"), &old, &len) == 0 && len == 7 &&
	   memcmp(old, "abcdefg", 8) == 0, "getdel returns the old value, NUL-terminated");
	free(old);
	ok(kvshm_exists(c, S("a")) == KVSHM_ENOTFOUND, "and the key is gone");
	ok(kvshm_getdel(c, S("a"), &old, &len) == KVSHM_ENOTFOUND,
	   "getdel of a missing key is KVSHM_ENOTFOUND");

	old = (void *)1;
	ok(kvshm_getset(c, S("g"), S("one"), 0, &old, &len) == 0 && old == NULL &&
	   kv_has(c, "g", "one"), "getset of a missing key stores and gives NULL");
	ok(kvshm_getset(c, S("g"), S("two"), 50000, &old, &len) == 0 && len == 3 &&
	   memcmp(old, "one", 4) == 0 && kv_has(c, "g", "two") &&
	   kvshm_ttl(c, S("g"), &ttl) == 0 && ttl > 0,
	   "getset returns the old value and stores the new one with its TTL");
	free(old);
	ok(kvshm_getset(c, S("g"), S("x"), -1, &old, &len) == KVSHM_EINVAL &&
	   kvshm_getset(c, S("g"), "01234567890123456", 17, 0, &old, &len) == KVSHM_ETOOBIG &&
	   kv_has(c, "g", "two"), "getset refuses a bad TTL or value and changes nothing");

	kvshm_set(c, S("m1"), S("v1"), 0, 0);
	kvshm_set(c, S("m2"), S("long"), 0, 0);
	ok(kvshm_mget(c, v, 4) == 0, "mget runs over four keys");
	ok(v[0].rc == 0 && v[0].vlen == 2 && memcmp(b1, "v1", 2) == 0,
	   "a present key is copied");
	ok(v[1].rc == KVSHM_ENOTFOUND, "an absent key says KVSHM_ENOTFOUND");
	ok(v[2].rc == KVSHM_ETOOSMALL && v[2].vlen == 4,
	   "a small buffer says KVSHM_ETOOSMALL with the length");
	ok(v[3].rc == KVSHM_EINVAL, "an empty key says KVSHM_EINVAL");
	ok(kvshm_mget(c, v, 0) == 0 && kvshm_mget(c, NULL, 1) == KVSHM_EINVAL,
	   "an empty mget is fine, a NULL array is not");

	for (i = 0; i < 500; i++) {
		char k[16];

		snprintf(k, sizeof(k), "f%d", i);
		kvshm_set(c, S(k), S("x"), 0, 0);
	}
	ok(kvshm_limits(c, &lim) == 0 && lim.max_value == 16 &&
	   lim.max_entries == 510 && lim.max_key == 1024 && lim.memory == 64 << 20,
	   "kvshm_limits reads the daemon's limits");
	for (i = 500; i < 507; i++) {
		char k[16];

		snprintf(k, sizeof(k), "f%d", i);
		kvshm_set(c, S(k), S("x"), 0, 0);
	}
	ok(stat_of(c, "keys") == 510 &&
	   kvshm_set(c, S("over"), S("x"), 0, 0) == KVSHM_ENOMEM &&
	   kvshm_exists(c, S("over")) == KVSHM_ENOTFOUND,
	   "a new key past --max-entries is KVSHM_ENOMEM and stores nothing");
	ok(kvshm_set(c, S("f1"), S("y"), 0, 0) == 0 &&
	   kvshm_mset(c, two, 2) == KVSHM_ENOMEM &&
	   kvshm_exists(c, S("e1")) == KVSHM_ENOTFOUND,
	   "replacing a key still works; a batch of new keys past it is refused whole");
	{
		struct kvshm_key dk[4] = { { "f1", 2 }, { "f2", 2 }, { "f1", 2 },
					   { "absent", 6 } };
		struct kvshm_key bad[2] = { { "f3", 2 }, { "", 0 } };

		ok(kvshm_mdel(c, dk, 4, &removed) == 0 && removed == 2 &&
		   kvshm_exists(c, S("f1")) == KVSHM_ENOTFOUND &&
		   kvshm_exists(c, S("f2")) == KVSHM_ENOTFOUND,
		   "mdel deletes the live keys once each and counts them");
		ok(kvshm_mdel(c, bad, 2, &removed) == KVSHM_EINVAL &&
		   kvshm_exists(c, S("f3")) == 0,
		   "an mdel with an empty key deletes nothing");
	}
	ok(kvshm_flush(c, &removed) == 0 && removed == 508,
	   "flush deletes every key (%llu)", (unsigned long long)removed);
	ok(stat_of(c, "keys") == 0 && kvshm_exists(c, S("f1")) == KVSHM_ENOTFOUND &&
	   kvshm_exists(c, S("m1")) == KVSHM_ENOTFOUND, "nothing is left");
	ok(kvshm_set(c, S("after"), S("y"), 0, 0) == 0 && kv_has(c, "after", "y") &&
	   wait_stat(c, "retired_pending", 0),
	   "the cache works after a flush, and the flushed items are reclaimed");

	kvshm_close(c);
	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	return exit_status();
}
