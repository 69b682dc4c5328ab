// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_cas.c - kvshm_cas() and kvshm_cas_del(): stores
 * and deletes that happen only if the key still has the version the
 * caller read, every documented error, and 4 processes incrementing one
 * counter by compare-and-set losing no update.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../lib/kv.h"
#include "../tap.h"

#define S(x) x, strlen(x)
#define NR_PROCS	4
#define NR_INCR		1000

/*
 * One child: add 1 to "ctr" by read + compare-and-set until it has
 * succeeded NR_INCR times. Exit 0 if every failure was KVSHM_ECHANGED
 * (someone else won that round), 1 otherwise.
 */
static int incr_main(const char *name)
{
	struct kvshm_meta m = { .struct_size = sizeof(m) };
	char buf[32];
	long done = 0, lost = 0;
	kvshm_t *c;
	int rc;

	if (kvshm_open(&c, name, NULL))
		return 1;
	while (done < NR_INCR) {
		uint64_t ver = 0;
		long v = 0;
		int n;

		rc = kvshm_get_meta(c, S("ctr"), buf, sizeof(buf) - 1, &m);
		if (rc == 0) {
			buf[m.vlen] = '\0';
			v = strtol(buf, NULL, 10);
			ver = m.version;
		} else if (rc != KVSHM_ENOTFOUND) {
			return 1;
		}
		n = snprintf(buf, sizeof(buf), "%ld", v + 1);
		rc = kvshm_cas(c, S("ctr"), buf, (size_t)n, 0, ver, NULL);
		if (rc == 0)
			done++;
		else if (rc == KVSHM_ECHANGED)
			lost++;
		else
			return 1;
	}
	kvshm_close(c);
	return 0;
}

int main(void)
{
	static const char *const args[] = { "--max-key", "32",
					     "--max-value", "64",
					     "--max-entries", "20", NULL };
	struct test_daemon d;
	uint64_t v1, v2, nv = 0;
	long long cas0;
	char key[40], val[80];
	pid_t pid[NR_PROCS];
	int i, st, good;
	kvshm_t *c;

	plan_tests(31 + NR_PROCS);
	start_kvshmd(&d, "cas", args);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot open");
	cas0 = stat_of(c, "cmd_cas");

	ok(kvshm_cas(c, S("k"), S("x"), 0, 5, NULL) == KVSHM_ENOTFOUND &&
	   kvshm_exists(c, S("k")) == KVSHM_ENOTFOUND,
	   "cas with a version on an absent key is KVSHM_ENOTFOUND, nothing stored");
	ok(kvshm_cas(c, S("k"), S("one"), 0, 0, &nv) == 0 && kv_has(c, "k", "one"),
	   "cas with version 0 stores an absent key");
	ok(nv != 0 && nv == kv_version(c, "k"),
	   "new_version is the stored item's version");
	ok(kvshm_cas(c, S("k"), S("two"), 0, 0, NULL) == KVSHM_ECHANGED &&
	   kv_has(c, "k", "one"), "cas with version 0 on a present key is KVSHM_ECHANGED");

	v1 = kv_version(c, "k");
	ok(kvshm_cas(c, S("k"), S("two"), 0, v1, &nv) == 0 && kv_has(c, "k", "two"),
	   "cas with the current version stores");
	v2 = kv_version(c, "k");
	ok(v2 > v1 && nv == v2, "and gives the key a higher version");
	ok(kvshm_cas(c, S("k"), S("three"), 0, v1, NULL) == KVSHM_ECHANGED &&
	   kv_has(c, "k", "two") && kv_version(c, "k") == v2,
	   "the old version again is KVSHM_ECHANGED and changes nothing");
	ok(kvshm_cas(c, S("k"), S("three"), 0, nv, &nv) == 0 &&
	   kvshm_cas(c, S("k"), S("four"), 0, nv, &nv) == 0 && kv_has(c, "k", "four"),
	   "cas after cas with the returned version, no read between");
	kvshm_set(c, S("k"), S("by set"), 0, 0);
	ok(kvshm_cas(c, S("k"), S("five"), 0, nv, NULL) == KVSHM_ECHANGED &&
	   kv_has(c, "k", "by set"), "a plain set in between makes the cas fail");

	ok(kvshm_cas(c, S("k"), S("ttl"), 86400000, kv_version(c, "k"), NULL) == 0,
	   "cas with a TTL stores");
	{
		int64_t ttl = 0;

		ok(kvshm_ttl(c, S("k"), &ttl) == 0 && ttl > 0 && ttl <= 86400000,
		   "and the key has that TTL");
	}
	ok(kvshm_cas(c, S("k"), S("nottl"), 0, kv_version(c, "k"), NULL) == 0,
	   "cas with TTL 0 stores");
	{
		int64_t ttl = 0;

		ok(kvshm_ttl(c, S("k"), &ttl) == 0 && ttl == -1,
		   "and drops the expiry, as set does");
	}

	/* Expiry: the version comes from the store itself (the key may be
	 * gone before any read), then wait until the key reads as absent,
	 * however long that takes. */
	v1 = 0;
	kvshm_cas(c, S("e"), S("soon"), 1, 0, &v1);
	for (i = 0; i < 100000 && kvshm_exists(c, S("e")) == 0; i++)
		usleep(100);
	ok(v1 != 0 && kvshm_cas(c, S("e"), S("late"), 0, v1, NULL) ==
	   KVSHM_ENOTFOUND, "cas on an expired key is KVSHM_ENOTFOUND");

	ok(kvshm_cas(c, S("k"), S("x"), -1, 1, NULL) == KVSHM_EINVAL,
	   "a negative TTL is KVSHM_EINVAL");
	ok(kvshm_cas(c, "", 0, S("x"), 0, 1, NULL) == KVSHM_EINVAL &&
	   kvshm_cas(c, S("k"), NULL, 3, 0, 1, NULL) == KVSHM_EINVAL &&
	   kvshm_cas(NULL, S("k"), S("x"), 0, 1, NULL) == KVSHM_EINVAL,
	   "an empty key, a NULL value with a length, a NULL handle: KVSHM_EINVAL");
	memset(key, 'a', sizeof(key));
	memset(val, 'v', sizeof(val));
	ok(kvshm_cas(c, key, 33, S("x"), 0, 0, NULL) == KVSHM_ETOOBIG &&
	   kvshm_cas(c, S("k"), val, 65, 0, kv_version(c, "k"), NULL) ==
	   KVSHM_ETOOBIG && kv_has(c, "k", "nottl"),
	   "a key or value over the limits is KVSHM_ETOOBIG, nothing stored");

	ok(kvshm_cas_del(c, S("nope"), 1) == KVSHM_ENOTFOUND &&
	   kvshm_cas_del(c, S("nope"), 0) == KVSHM_ENOTFOUND,
	   "cas_del of an absent key is KVSHM_ENOTFOUND");
	v1 = kv_version(c, "k");
	ok(kvshm_cas_del(c, S("k"), v1 - 1) == KVSHM_ECHANGED &&
	   kvshm_cas_del(c, S("k"), 0) == KVSHM_ECHANGED && kv_has(c, "k", "nottl"),
	   "cas_del with another version is KVSHM_ECHANGED and deletes nothing");
	ok(kvshm_cas_del(c, S("k"), v1) == 0 &&
	   kvshm_exists(c, S("k")) == KVSHM_ENOTFOUND,
	   "cas_del with the current version deletes");
	ok(kvshm_cas_del(c, "", 0, 1) == KVSHM_EINVAL &&
	   kvshm_cas_del(c, key, 33, 1) == KVSHM_ETOOBIG,
	   "cas_del: an empty key is KVSHM_EINVAL, a long one KVSHM_ETOOBIG");

	ok(stat_of(c, "cmd_cas") > cas0 && stat_of(c, "cmd_casdel") >= 3,
	   "stats count cmd_cas and cmd_casdel");
	ok(strcmp(kvshm_strerror(KVSHM_ECHANGED),
		  "key changed: its version is not the one expected") == 0 &&
	   strcmp(kvshm_strerror(KVSHM_E_LAST), "unknown kvshm error") == 0,
	   "KVSHM_ECHANGED has its message, KVSHM_E_LAST none");
	ok(KVSHM_ECHANGED == -1013 && KVSHM_EREVOKED == -1014,
	   "KVSHM_ECHANGED is -1013, KVSHM_EREVOKED the next code down");

	/* Two writers read the same version: exactly one may store. */
	kvshm_set(c, S("race"), S("0"), 0, 0);
	v1 = kv_version(c, "race");
	good = (kvshm_cas(c, S("race"), S("a"), 0, v1, NULL) == 0) +
	       (kvshm_cas(c, S("race"), S("b"), 0, v1, NULL) == 0);
	ok(good == 1 && kv_has(c, "race", "a"),
	   "of two cas with the same version, the first wins, the second fails");

	/* 4 processes x NR_INCR compare-and-set increments. */
	fflush(stdout);
	for (i = 0; i < NR_PROCS; i++) {
		pid[i] = fork();
		if (pid[i] == 0)
			_exit(incr_main(d.name));
		if (pid[i] < 0)
			bail_out("fork: %s", strerror(errno));
	}
	for (i = 0; i < NR_PROCS; i++) {
		waitpid(pid[i], &st, 0);
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "writer %d made %d increments, failing only on KVSHM_ECHANGED",
		   i, NR_INCR);
	}
	snprintf(val, sizeof(val), "%d", NR_PROCS * NR_INCR);
	ok(kv_has(c, "ctr", val), "the counter is exactly %d: no update lost",
	   NR_PROCS * NR_INCR);

	{
		char out[16];
		struct kvshm_meta m = { .struct_size = sizeof(m) };

		ok(kvshm_get_meta(c, S("ctr"), out, sizeof(out), &m) == 0 &&
		   m.version > v1, "the counter's version is newer than before");
	}
	ok(kvshm_ping(c) == 0, "the daemon still answers");
	ok(kvshm_cas(c, S("ctr"), S("x"), 0, UINT64_MAX, NULL) == KVSHM_ECHANGED,
	   "a version no item has is KVSHM_ECHANGED");

	/* --max-entries 20: fill up, then a cas that would add a key. */
	for (i = 0; stat_of(c, "keys") < 20 && i < 40; i++) {
		snprintf(key, sizeof(key), "fill:%d", i);
		kvshm_set(c, key, strlen(key), S("f"), 0, 0);
	}
	ok(stat_of(c, "keys") == 20 &&
	   kvshm_cas(c, S("one-more"), S("x"), 0, 0, NULL) == KVSHM_ENOMEM &&
	   kvshm_exists(c, S("one-more")) == KVSHM_ENOTFOUND &&
	   kvshm_cas(c, S("ctr"), S("y"), 0, kv_version(c, "ctr"), NULL) == 0,
	   "at --max-entries a cas adding a key is KVSHM_ENOMEM; replacing one works");
	kvshm_close(c);
	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	return exit_status();
}
