// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_revoke.c - a live reader stuck in a read section
 * does not pin memory: after --reader-revoke-ms kvshmd revokes its
 * section and reclaims what was replaced meanwhile, and the reader, when
 * it goes on, reads correct data again and is told that its views were
 * revoked:
 *  - a reader process SIGSTOPped inside a section is revoked; retired
 *    items are freed and used memory returns to its starting figure
 *    while it is still stopped, but pages emptied meanwhile are held for
 *    their kind (type-stable memory) until it goes on; resumed, its
 *    kvshm_read_unlock() says KVSHM_EREVOKED;
 *  - a revoked reader SIGKILLed in its section releases the hold;
 *  - a copying read inside a revoked section renews the section and
 *    returns the latest value, and the unlock still reports the
 *    revocation; the next section is clean;
 *  - while a revoked reader holds the heap, a full lru cache does not
 *    evict itself away for a write of a new size;
 *  - --reader-revoke-ms 0 never revokes (test_reclaim relies on it).
 * Waits poll the daemon's stats with generous bounds; nothing depends on
 * timing to pass.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../lib/kv.h"
#include "../tap.h"

#define VLEN	1000

static char last;		/* first byte of the last value churn() set */

static void churn(kvshm_t *c, int rounds)
{
	last = kv_churn(c, "held", VLEN, rounds);
}

/* kvshm_clients() callback: the flags of the client whose pid is *arg. */
static unsigned int flags_of;

static int find_client(const struct kvshm_client *cl, void *arg)
{
	if (cl->pid == *(pid_t *)arg)
		flags_of = cl->flags;
	return 0;
}

/*
 * A child process that opens a read section on cache @name and stops
 * itself there; *@st is its status once stopped. Resumed, it exits 0 if
 * its unlock says KVSHM_EREVOKED, else 2 (1 if it could not start).
 */
static pid_t stop_in_section(const char *name, int *st)
{
	pid_t p;

	fflush(stdout);
	p = fork();
	if (p == 0) {
		kvshm_t *cc;

		if (kvshm_open(&cc, name, NULL) || kvshm_read_lock(cc))
			_exit(1);
		raise(SIGSTOP);
		_exit(kvshm_read_unlock(cc) == KVSHM_EREVOKED ? 0 : 2);
	}
	waitpid(p, st, WUNTRACED);
	return p;
}

/* Fill a few whole pages with keys, then delete them all. */
static void fill_and_empty(kvshm_t *c)
{
	char val[VLEN], key[32];
	int i;

	memset(val, 'f', VLEN);
	for (i = 0; i < 400; i++) {
		snprintf(key, sizeof(key), "fill:%d", i);
		kvshm_set(c, key, strlen(key), val, VLEN, 0, 0);
	}
	for (i = 0; i < 400; i++) {
		snprintf(key, sizeof(key), "fill:%d", i);
		kvshm_del(c, key, strlen(key));
	}
}

int main(void)
{
	static const char *const args[] = { "--memory", "16M",
					    "--reader-revoke-ms", "300", NULL };
	static const char *const never[] = { "--memory", "16M",
					     "--reader-revoke-ms", "0", NULL };
	struct test_daemon d;
	char orig[VLEN], buf[VLEN];
	const void *view;
	size_t vlen;
	kvshm_t *c;
	int c2p[2], st;
	long long used0, free0, hits0;
	pid_t child;
	char b;

	plan_tests(28);
	start_kvshmd(&d, "revoke", args);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot open");
	memset(orig, 'Z', VLEN);
	kvshm_set(c, "held", 4, orig, VLEN, 0, 0);
	/* Once first, so that the bucket arrays have grown for it. */
	fill_and_empty(c);
	wait_stat(c, "retired_pending", 0);
	used0 = stat_of(c, "memory_used");
	free0 = stat_of(c, "memory_pages_free");

	/* A child takes a view inside a section, then stops there. */
	if (pipe(c2p))
		bail_out("pipe");
	fflush(stdout);
	child = fork();
	if (child == 0) {
		kvshm_t *cc;
		int rc;

		if (kvshm_open(&cc, d.name, NULL) || kvshm_read_lock(cc) ||
		    kvshm_view(cc, "held", 4, &view, &vlen) || vlen != VLEN)
			_exit(1);
		if (write(c2p[1], "R", 1) != 1)
			_exit(1);
		raise(SIGSTOP);
		rc = kvshm_read_unlock(cc);
		/* Then a fresh read of the value set while it was stopped. */
		memset(orig, 'Q', VLEN);
		if (kvshm_get(cc, "held", 4, buf, VLEN, &vlen) ||
		    vlen != VLEN || memcmp(buf, orig, VLEN) != 0)
			_exit(3);
		kvshm_close(cc);
		_exit(rc == KVSHM_EREVOKED ? 0 : 2);
	}
	ok(read(c2p[0], &b, 1) == 1 && waitpid(child, &st, WUNTRACED) == child &&
	   WIFSTOPPED(st), "a reader process is stopped inside a read section");
	churn(c, 2000);
	ok(wait_stat(c, "readers_revoked", 1) &&
	   stat_of(c, "readers_revoked_total") == 1,
	   "its section is revoked after --reader-revoke-ms (stats say so)");
	ok(wait_stat(c, "retired_pending", 0),
	   "every item replaced meanwhile is freed while it is still stopped");
	flags_of = 0;
	ok(kvshm_clients(c, find_client, &child) == 0 &&
	   (flags_of & KVSHM_CLIENT_REVOKED) &&
	   !(flags_of & KVSHM_CLIENT_STALLED),
	   "kvshm_clients() names its process as revoked (not stalled)");
	ok(stat_of(c, "memory_used") == used0,
	   "used memory returns to its starting figure");
	fill_and_empty(c);
	ok(wait_stat(c, "retired_pending", 0) &&
	   stat_of(c, "memory_pages_held") > 0 &&
	   stat_of(c, "memory_pages_free") < free0,
	   "pages emptied meanwhile are held for their kind, not freed");
	memset(buf, 'Q', VLEN);
	kvshm_set(c, "held", 4, buf, VLEN, 0, 0);
	kill(child, SIGCONT);
	ok(waitpid(child, &st, 0) == child && WIFEXITED(st) &&
	   WEXITSTATUS(st) == 0,
	   "resumed, its unlock returns KVSHM_EREVOKED and its next read "
	   "is the latest value");
	ok(wait_stat(c, "readers_revoked", 0),
	   "no revoked reader is left once it has gone on");
	{
		pid_t self = getpid();

		flags_of = 0;
		ok(kvshm_clients(c, find_client, &self) == 0 &&
		   (flags_of & KVSHM_CLIENT_SELF) &&
		   !(flags_of & (KVSHM_CLIENT_REVOKED | KVSHM_CLIENT_STALLED)),
		   "a client with no stuck section is neither");
	}
	ok(wait_stat(c, "memory_pages_held", 0) &&
	   wait_stat(c, "retired_pending", 0) &&
	   wait_stat(c, "memory_pages_free", free0),
	   "then the held pages go back to the free pages");

	/* A revoked reader that dies: its slot goes, and the hold with it. */
	child = stop_in_section(d.name, &st);
	churn(c, 500);
	fill_and_empty(c);
	ok(WIFSTOPPED(st) && wait_stat(c, "readers_revoked", 1) &&
	   wait_stat(c, "retired_pending", 0) &&
	   stat_of(c, "memory_pages_held") > 0,
	   "another stopped reader is revoked, and pages are held");
	kill(child, SIGKILL);
	waitpid(child, &st, 0);
	ok(wait_stat(c, "readers_revoked", 0) &&
	   wait_stat(c, "memory_pages_held", 0) &&
	   wait_stat(c, "memory_pages_free", free0),
	   "SIGKILLed, its slot is released and the held pages are freed");

	/* This process, nested: copying reads renew a revoked section. */
	ok(kvshm_read_lock(c) == 0 && kvshm_view(c, "held", 4, &view, &vlen) == 0,
	   "a view is taken inside a read section");
	churn(c, 500);
	ok(wait_stat(c, "readers_revoked", 1) && wait_stat(c, "retired_pending", 0),
	   "the section is revoked and reclamation goes on");
	hits0 = stat_of(c, "hits");
	ok(kvshm_get(c, "held", 4, buf, VLEN, &vlen) == 0 && vlen == VLEN &&
	   buf[0] == last && buf[VLEN - 1] == last &&
	   stat_of(c, "hits") == hits0 + 2,
	   "a copying read inside it drops its revoked reading and reads "
	   "again: it returns the latest value (2 hits counted)");
	ok(wait_stat(c, "readers_revoked", 0),
	   "that read renewed the section: kvshmd waits for it again");
	ok(kvshm_view(c, "held", 4, &view, &vlen) == 0 &&
	   ((const char *)view)[0] == last,
	   "a view taken after the renewal shows the latest value");
	ok(kvshm_read_unlock(c) == KVSHM_EREVOKED,
	   "the unlock reports that the section was revoked");
	ok(kvshm_read_lock(c) == 0 && kvshm_read_unlock(c) == 0,
	   "the next section is not revoked");
	ok(kvshm_read_unlock(c) == KVSHM_EINVAL,
	   "an unlock with no section open is KVSHM_EINVAL");
	ok(strcmp(kvshm_strerror(KVSHM_EREVOKED), "read section revoked by "
		  "the daemon: views may be stale") == 0 &&
	   KVSHM_EREVOKED == -1014 && KVSHM_E_LAST == -1015,
	   "KVSHM_EREVOKED is -1014, with its message");
	kvshm_close(c);
	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	cleanup_kvshmd(&d);

	/*
	 * A full lru cache while a revoked reader holds the heap: a write
	 * that needs a page no class has free cannot be helped by evicting
	 * (emptied pages stay held), so it must not evict the cache away.
	 */
	{
		static const char *const lru[] = { "--memory", "8M",
			"--eviction", "lru", "--eviction-watermark", "0",
			"--reader-revoke-ms", "300", NULL };
		char small[200], *big = malloc(5000), key[32];
		long long keys0;
		int i, rc;

		start_kvshmd(&d, "revoke-lru", lru);
		if (!big || kvshm_open(&c, d.name, NULL))
			bail_out("cannot open");
		memset(small, 's', sizeof(small));
		memset(big, 'b', 5000);
		for (i = 0; stat_of(c, "evictions_lru") < 100 && i < 200000; i++) {
			snprintf(key, sizeof(key), "k:%d", i);
			kvshm_set(c, key, strlen(key), small, sizeof(small), 0, 0);
		}
		keys0 = stat_of(c, "keys");
		child = stop_in_section(d.name, &st);
		for (i = 0; stat_of(c, "readers_revoked") < 1 && i < 2000; i++) {
			kvshm_set(c, "k:0", 3, small, sizeof(small), 0, 0);
			usleep(10000);
		}
		ok(WIFSTOPPED(st) && stat_of(c, "readers_revoked") == 1 &&
		   keys0 > 20000, "a full lru cache (%lld keys) has a revoked "
		   "reader", keys0);
		for (i = 0; i < 5; i++) {
			snprintf(key, sizeof(key), "big:%d", i);
			rc = kvshm_set(c, key, strlen(key), big, 5000, 0, 0);
			if (rc != 0 && rc != KVSHM_ENOMEM)
				break;
		}
		ok(i == 5 && stat_of(c, "keys") >= keys0 * 9 / 10,
		   "writes of a new size succeed or fail with KVSHM_ENOMEM "
		   "without evicting the cache (%lld keys left)",
		   stat_of(c, "keys"));
		/*
		 * Keys of the length most keys have, so items of their
		 * size: each evicts one of that size. The older, shorter
		 * keys score colder and once filled the eviction pool,
		 * leaving no victim of the size (a flaky failure under
		 * load); a shard at its growth threshold cannot grow while
		 * the heap is held, and takes the key all the same.
		 */
		for (i = 0; i < 300; i++) {
			snprintf(key, sizeof(key), "n:%05d", i);
			if ((rc = kvshm_set(c, key, strlen(key), small,
				      sizeof(small), 0, 0))) {
				diag("set %s: %s (eviction_failed %lld)", key,
				     kvshm_strerror(rc),
				     stat_of(c, "eviction_failed"));
				break;
			}
		}
		ok(i == 300, "writes of a size the cache holds each evict one "
		   "of its size, in shards that cannot grow too (%d of 300)",
		   i);
		kill(child, SIGCONT);
		ok(waitpid(child, &st, 0) == child && WIFEXITED(st) &&
		   WEXITSTATUS(st) == 0 && wait_stat(c, "readers_revoked", 0) &&
		   kvshm_set(c, "big:x", 5, big, 5000, 0, 0) == 0,
		   "once the reader goes on, a write of a new size succeeds");
		kvshm_close(c);
		stop_kvshmd(&d);
		cleanup_kvshmd(&d);
		free(big);
	}

	/* --reader-revoke-ms 0: the section pins reclamation, as before. */
	start_kvshmd(&d, "revoke0", never);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot open");
	kvshm_set(c, "held", 4, orig, VLEN, 0, 0);
	kvshm_read_lock(c);
	churn(c, 300);
	{
		pid_t self = getpid();

		flags_of = 0;
		ok(wait_stat(c, "readers_stalled", 1) &&
		   kvshm_clients(c, find_client, &self) == 0 &&
		   (flags_of & KVSHM_CLIENT_STALLED),
		   "kvshm_clients() names a stalled reader's process");
	}
	ok(wait_stat(c, "readers_stalled", 1) &&
	   stat_of(c, "retired_pending") > 0 &&
	   stat_of(c, "readers_revoked_total") == 0 &&
	   kvshm_read_unlock(c) == 0 && wait_stat(c, "retired_pending", 0),
	   "with --reader-revoke-ms 0 a stuck section is never revoked");
	kvshm_close(c);
	stop_kvshmd(&d);
	cleanup_kvshmd(&d);
	return exit_status();
}
