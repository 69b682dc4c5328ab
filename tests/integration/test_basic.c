// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_basic.c - the client API against a real kvshmd:
 * every operation's semantics and every documented error for bad input,
 * a full cache, a dead daemon and a name already served.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../tap.h"

#define S(x) x, strlen(x)

static int count_cb(const void *key, size_t klen, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int stop_cb(const void *key, size_t klen, void *arg)
{
	return 7;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int run_second_daemon(const char *name)
{
	char dir[] = "/tmp/kvshm-test2-XXXXXX";
	char cmd[1024];
	int st;

	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "timeout 20 %s --foreground --name %s "
		 "--data-dir %s 2>%s/err; s=$?; grep -q 'already served' %s/err "
		 "|| s=99; rm -rf %s; exit $s", build_path("daemon/kvshmd"), name,
		 dir, dir, dir, dir);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void)
{
	static const char *const args[] = { "--memory", "8M", "--max-value",
					     "65536", "--max-key", "250", NULL };
	struct test_daemon d;
	kvshm_t *c, *c2;
	char buf[256], bigkey[300], *big;
	const void *view;
	void *p;
	size_t vlen = 0;
	int64_t ttl = 0, r = 0;
	int i, n, rc, codes_ok = 1;
	char *stats;

	plan_tests(69);

	ok(kvshm_open(&c, "no-such-cache-here", NULL) == KVSHM_EDAEMON,
	   "opening a name no daemon serves gives KVSHM_EDAEMON");
	ok(kvshm_open(&c, "bad/name", NULL) == KVSHM_EINVAL,
	   "a name with a slash is KVSHM_EINVAL");
	ok(kvshm_open(&c, "", NULL) == KVSHM_EINVAL, "an empty name is KVSHM_EINVAL");

	start_kvshmd(&d, "basic", args);
	ok(kvshm_open(&c, d.name, NULL) == 0, "kvshm_open attaches to a running daemon");
	ok(kvshm_ping(c) == 0, "ping round-trips");

	ok(kvshm_get(c, S("k1"), buf, sizeof(buf), &vlen) == KVSHM_ENOTFOUND,
	   "a missing key reads as KVSHM_ENOTFOUND");
	ok(kvshm_set(c, S("k1"), S("hello"), 0, 0) == 0, "set stores a value");
	memset(buf, 0, sizeof(buf));
	ok(kvshm_get(c, S("k1"), buf, sizeof(buf), &vlen) == 0 && vlen == 5 &&
	   memcmp(buf, "hello", 5) == 0, "get reads back what was set");
	ok(kvshm_get(c, S("k1"), buf, 3, &vlen) == KVSHM_ETOOSMALL && vlen == 5,
	   "a small buffer gives KVSHM_ETOOSMALL with the needed size");
	ok(kvshm_get_alloc(c, S("k1"), &p, &vlen) == 0 && vlen == 5 &&
	   memcmp(p, "hello", 6) == 0, "get_alloc returns a NUL-terminated copy");
	free(p);
	ok(kvshm_exists(c, S("k1")) == 0 && kvshm_exists(c, S("zz")) == KVSHM_ENOTFOUND,
	   "exists tells present from absent");
	ok(kvshm_ttl(c, S("k1"), &ttl) == 0 && ttl == -1, "a key without expiry has ttl -1");
	ok(kvshm_set(c, S("k1"), S("world"), 0, 0) == 0 &&
	   kvshm_get(c, S("k1"), buf, sizeof(buf), &vlen) == 0 &&
	   memcmp(buf, "world", 5) == 0, "set replaces a value");
	ok(kvshm_set(c, S("k1"), "", 0, 0, 0) == 0 &&
	   kvshm_get(c, S("k1"), buf, sizeof(buf), &vlen) == 0 && vlen == 0,
	   "an empty value is a value");

	/*
	 * Every value size up to 300 bytes under keys of 1 to 24 bytes
	 * (kvshm_get() copies 16 to 128 bytes inline, for keys of 9 to 16
	 * bytes): the value reads back exactly, nothing past it is written,
	 * and a buffer one byte short is left alone.
	 */
	n = 0;
	for (i = 0; i <= 300; i++) {
		char key[32], val[301], out[400];
		size_t kl = 1 + (size_t)i % 24, j;

		snprintf(key, sizeof(key), "size:%03d.................", i);
		for (j = 0; j < (size_t)i; j++)
			val[j] = (char)(i * 7 + j * 13 + 1);
		if (kvshm_set(c, key, kl, val, (size_t)i, 0, 0)) {
			n++;
			continue;
		}
		memset(out, 0xee, sizeof(out));
		vlen = 999;
		if (kvshm_get(c, key, kl, out, (size_t)i, &vlen) ||
		    vlen != (size_t)i || memcmp(out, val, (size_t)i))
			n++;
		for (j = (size_t)i; j < sizeof(out); j++)
			if ((unsigned char)out[j] != 0xee)
				n++;
		memset(out, 0xee, sizeof(out));
		if (i && (kvshm_get(c, key, kl, out, (size_t)i - 1, &vlen) !=
			  KVSHM_ETOOSMALL || vlen != (size_t)i))
			n++;
		for (j = 0; i && j < sizeof(out); j++)
			if ((unsigned char)out[j] != 0xee)
				n++;
	}
	ok(n == 0, "values of 0 to 300 bytes read back exactly, into a buffer "
	   "of their size, and one a byte short is left alone (%d errors)", n);
	ok(kvshm_get(c, S("size:011...."), NULL, 0, &vlen) == KVSHM_ETOOSMALL &&
	   vlen == 11, "a NULL buffer of 0 bytes asks for the value's size");
	ok(kvshm_set(c, S("expiring:12b"), S("later"), 100000, 0) == 0 &&
	   kvshm_get(c, S("expiring:12b"), buf, sizeof(buf), &vlen) == 0 &&
	   vlen == 5 && memcmp(buf, "later", 5) == 0,
	   "a 12-byte key with a TTL reads back before it expires");

	ok(kvshm_set(c, S("k1"), S("x"), 0, KVSHM_NX) == KVSHM_EEXISTS,
	   "NX on a present key is KVSHM_EEXISTS");
	ok(kvshm_set(c, S("nx"), S("x"), 0, KVSHM_NX) == 0, "NX on an absent key stores");
	ok(kvshm_set(c, S("xx"), S("x"), 0, KVSHM_XX) == KVSHM_ENOTFOUND &&
	   kvshm_exists(c, S("xx")) == KVSHM_ENOTFOUND,
	   "XX on an absent key is KVSHM_ENOTFOUND and stores nothing");
	ok(kvshm_set(c, S("nx"), S("y"), 0, KVSHM_XX) == 0 &&
	   kvshm_get(c, S("nx"), buf, sizeof(buf), &vlen) == 0 && buf[0] == 'y',
	   "XX on a present key replaces it");
	ok(kvshm_set(c, S("k"), S("v"), 0, KVSHM_NX | KVSHM_XX) == KVSHM_EINVAL,
	   "NX and XX together are KVSHM_EINVAL");
	ok(kvshm_set(c, S("k"), S("v"), -1, 0) == KVSHM_EINVAL,
	   "a negative TTL is KVSHM_EINVAL");

	ok(kvshm_set(c, S("t"), S("v"), 100000, 0) == 0 &&
	   kvshm_ttl(c, S("t"), &ttl) == 0 && ttl > 0 && ttl <= 100000,
	   "a TTL reads back as the time left");
	ok(kvshm_persist(c, S("t")) == 0 && kvshm_ttl(c, S("t"), &ttl) == 0 && ttl == -1,
	   "persist removes the expiry");
	ok(kvshm_expire(c, S("t"), 50000) == 0 && kvshm_ttl(c, S("t"), &ttl) == 0 &&
	   ttl > 0 && ttl <= 50000, "expire sets a new expiry");
	ok(kvshm_get(c, S("t"), buf, sizeof(buf), &vlen) == 0 && buf[0] == 'v',
	   "expire keeps the value");
	ok(kvshm_expire(c, S("t"), 0) == 0 && kvshm_exists(c, S("t")) == KVSHM_ENOTFOUND,
	   "expire with 0 deletes the key");
	ok(kvshm_expire(c, S("t"), 10) == KVSHM_ENOTFOUND &&
	   kvshm_persist(c, S("t")) == KVSHM_ENOTFOUND,
	   "expire and persist of an absent key are KVSHM_ENOTFOUND");
	ok(kvshm_set(c, S("short"), S("v"), 30, 0) == 0, "a 30 ms TTL is accepted");
	sleep_ms(120);
	ok(kvshm_get(c, S("short"), buf, sizeof(buf), &vlen) == KVSHM_ENOTFOUND &&
	   kvshm_exists(c, S("short")) == KVSHM_ENOTFOUND &&
	   kvshm_ttl(c, S("short"), &ttl) == KVSHM_ENOTFOUND,
	   "an expired key reads as absent at once");
	ok(kvshm_set(c, S("short"), S("w"), 0, KVSHM_NX) == 0,
	   "NX treats an expired key as absent");

	ok(kvshm_incr(c, S("n"), 1, &r) == 0 && r == 1, "incr of a missing key gives 1");
	ok(kvshm_incr(c, S("n"), -5, &r) == 0 && r == -4, "incr by -5 gives -4");
	ok(kvshm_get(c, S("n"), buf, sizeof(buf), &vlen) == 0 && vlen == 2 &&
	   memcmp(buf, "-4", 2) == 0, "the counter is stored as decimal text");
	kvshm_set(c, S("s"), S("abc"), 0, 0);
	ok(kvshm_incr(c, S("s"), 1, &r) == KVSHM_ENOTINT, "incr of text is KVSHM_ENOTINT");
	kvshm_set(c, S("s"), S(" 12"), 0, 0);
	ok(kvshm_incr(c, S("s"), 1, &r) == KVSHM_ENOTINT, "a leading space is not an integer");
	kvshm_set(c, S("m"), S("9223372036854775807"), 0, 0);
	ok(kvshm_incr(c, S("m"), 1, &r) == KVSHM_EOVERFLOW &&
	   kvshm_get(c, S("m"), buf, sizeof(buf), &vlen) == 0 && vlen == 19,
	   "overflowing INT64_MAX is KVSHM_EOVERFLOW and changes nothing");
	kvshm_set(c, S("z"), S("007"), 0, 0);
	rc = kvshm_incr(c, S("z"), 1, &r);
	kvshm_set(c, S("z"), S("-0"), 0, 0);
	ok(rc == KVSHM_ENOTINT && kvshm_incr(c, S("z"), 1, &r) == KVSHM_ENOTINT,
	   "leading zeros and -0 are not integers, as in Redis");
	kvshm_set(c, S("e"), S("10"), 100000, 0);
	ok(kvshm_incr(c, S("e"), 5, &r) == 0 && r == 15 &&
	   kvshm_ttl(c, S("e"), &ttl) == 0 && ttl > 0, "incr keeps the key's expiry");

	memset(bigkey, 'k', sizeof(bigkey));
	ok(kvshm_set(c, bigkey, 251, S("v"), 0, 0) == KVSHM_ETOOBIG,
	   "a key over --max-key is KVSHM_ETOOBIG");
	ok(kvshm_set(c, bigkey, 250, S("v"), 0, 0) == 0,
	   "a key of exactly --max-key bytes is accepted");
	ok(kvshm_get(c, bigkey, 251, buf, sizeof(buf), &vlen) == KVSHM_ETOOBIG,
	   "reading with an over-long key is KVSHM_ETOOBIG");
	big = calloc(1, 65537);
	ok(kvshm_set(c, S("big"), big, 65537, 0, 0) == KVSHM_ETOOBIG &&
	   kvshm_exists(c, S("big")) == KVSHM_ENOTFOUND,
	   "a value over --max-value is KVSHM_ETOOBIG and stores nothing");
	ok(kvshm_set(c, "", 0, S("v"), 0, 0) == KVSHM_EINVAL &&
	   kvshm_get(c, NULL, 0, buf, sizeof(buf), &vlen) == KVSHM_EINVAL,
	   "an empty key is KVSHM_EINVAL");
	ok(kvshm_set(c, "a\0b", 3, S("nul"), 0, 0) == 0 &&
	   kvshm_get(c, "a\0b", 3, buf, sizeof(buf), &vlen) == 0 &&
	   kvshm_exists(c, "a\0c", 3) == KVSHM_ENOTFOUND, "keys are binary-safe");

	ok(kvshm_view(c, S("k1"), &view, &vlen) == KVSHM_EINVAL,
	   "view outside a read section is KVSHM_EINVAL");
	kvshm_set(c, S("k1"), S("viewed"), 0, 0);
	ok(kvshm_read_lock(c) == 0 && kvshm_read_lock(c) == 0 &&
	   kvshm_view(c, S("k1"), &view, &vlen) == 0 && vlen == 6 &&
	   memcmp(view, "viewed", 6) == 0, "view points at the value in a (nested) section");
	kvshm_read_unlock(c);
	ok(kvshm_view(c, S("k1"), &view, &vlen) == 0,
	   "the outer section still allows views after an inner unlock");
	kvshm_read_unlock(c);

	ok(kvshm_del(c, S("k1")) == 0 && kvshm_exists(c, S("k1")) == KVSHM_ENOTFOUND,
	   "del removes a key");
	ok(kvshm_del(c, S("k1")) == KVSHM_ENOTFOUND, "deleting twice is KVSHM_ENOTFOUND");

	for (i = 0; i < 30; i++) {
		snprintf(buf, sizeof(buf), "user:%d", i);
		kvshm_set(c, S(buf), S("u"), 0, 0);
	}
	n = 0;
	rc = kvshm_keys(c, "user:*", count_cb, &n);
	ok(rc == 0 && n == 30,
	   "keys with a pattern lists exactly the matching keys (%d)", n);
	ok(kvshm_keys(c, NULL, stop_cb, NULL) == 7, "a callback's non-zero return stops the walk");

	ok(kvshm_stats(c, &stats) == 0 && strstr(stats, "\nkeys ") &&
	   strstr(stats, "\nhits ") && strstr(stats, "membarrier "),
	   "stats returns the daemon's counters");
	free(stats);

	/* Fill the 8 MiB heap: noeviction fails cleanly and keeps data. */
	memset(big, 'f', 60000);
	for (i = 0, rc = 0; i < 1000 && rc == 0; i++) {
		snprintf(buf, sizeof(buf), "fill:%d", i);
		rc = kvshm_set(c, S(buf), big, 60000, 0, 0);
	}
	ok(rc == KVSHM_ENOMEM, "a full cache gives KVSHM_ENOMEM (after %d values)", i - 1);
	ok(kvshm_exists(c, S(buf)) == KVSHM_ENOTFOUND &&
	   kvshm_get(c, S("nx"), buf, sizeof(buf), &vlen) == 0,
	   "the failed write stored nothing and older data is intact");
	kvshm_del(c, S("fill:0"));
	kvshm_del(c, S("fill:1"));
	ok(kvshm_set(c, S("after"), big, 60000, 0, 0) == 0,
	   "deleting makes room again once a grace period passes");

	for (i = KVSHM_E_LAST + 1; i <= KVSHM_ENOTFOUND; i++)
		if (strcmp(kvshm_strerror(i), "unknown kvshm error") == 0)
			codes_ok = 0;
	ok(codes_ok && strcmp(kvshm_strerror(-1), "unknown kvshm error") == 0,
	   "every code has a message and others are unknown");

	/* fork(): the child must not use the parent's handle. */
	kvshm_set(c, S("forked"), S("parent"), 0, 0);
	ok(kvshm_read_lock(c) == 0 &&
	   kvshm_view(c, S("forked"), &view, &vlen) == 0, "the parent holds a view");
	fflush(stdout);
	{
		pid_t pid = fork();
		int st;

		if (pid == 0) {
			int bad = kvshm_get(c, S("forked"), buf, sizeof(buf),
					    &vlen) != KVSHM_EINVAL ||
				  kvshm_set(c, S("k"), S("v"), 0, 0) != KVSHM_EINVAL;

			kvshm_close(c);		/* must not end the parent's section */
			_exit(bad);
		}
		waitpid(pid, &st, 0);
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "a child's reads and writes on an inherited handle are KVSHM_EINVAL");
	}
	for (i = 0; i < 3000; i++)	/* spans many grace periods */
		kvshm_set(c, S("forked"), S("churn!"), 0, 0);
	ok(vlen == 6 && memcmp(view, "parent", 6) == 0,
	   "a child closing the inherited handle leaves the parent's section intact");
	kvshm_read_unlock(c);
	ok(kvshm_get(c, S("forked"), buf, sizeof(buf), &vlen) == 0 && vlen == 6 &&
	   memcmp(buf, "churn!", 6) == 0,
	   "the parent's handle works after the child closed its copy");

	ok(run_second_daemon(d.name) == 1,
	   "a second kvshmd on a served name refuses with a clear message");
	ok(kvshm_ping(c) == 0, "the first daemon still serves");

	ok(kvshm_open(&c2, d.name, NULL) == 0, "a second handle attaches");
	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	ok(!shm_exists(d.name), "its shared-memory objects are removed");
	ok(kvshm_set(c2, S("k"), S("v"), 0, 0) == KVSHM_EDAEMON,
	   "a write after the daemon stopped is KVSHM_EDAEMON, not a hang");
	ok(kvshm_get(c2, S("forked"), buf, sizeof(buf), &vlen) == 0 && vlen == 6 &&
	   memcmp(buf, "churn!", 6) == 0,
	   "after a clean stop, a handle's first read returns the last data");
	kvshm_close(c2);
	kvshm_close(c);
	free(big);
	return exit_status();
}
