// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_concurrent.c - several client processes (fork)
 * read and write one cache at once. Every value carries its own key and an
 * XXH64 checksum, so a reader can tell a torn or stale-memory read from a
 * value that was really written. Writers own disjoint keys and check they
 * read their own writes; at the end kvshmctl must see what they wrote.
 *
 * One more reader keeps a read section open until kvshmd revokes it
 * (--reader-revoke-ms 100), then goes on reading in it, round after round:
 * its copying reads must still see only written values, the views it took
 * before each revocation must stay readable (other bytes, never a fault),
 * and each unlock must say KVSHM_EREVOKED.
 *
 * Meanwhile the parent keeps starting short-lived readers and SIGKILLs each
 * at a random moment, often inside a read section: reclamation must go on,
 * and once everything is deleted used memory returns exactly to its
 * baseline (taken after a first fill and delete, so that the bucket arrays
 * have already grown).
 *
 * Built twice: as test_concurrent (membarrier read sections when the kernel
 * has them) and, with -DKVSHM_TEST_FENCED, as test_concurrent_fenced (the
 * daemon with KVSHMD_NO_MEMBARRIER=1, readers with full fences).
 *
 * Runs ~2 s by default; KVSHM_TORTURE_SECS=N runs longer.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../tap.h"

#define NR_READERS	8
#define NR_WRITERS	3
#define NKEYS		6000		/* enough to grow every shard */
#define MAXV		3000

static const char *name;
static double secs = 2.0;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t key_of(char *buf, unsigned int k)
{
	return (size_t)sprintf(buf, "key:%u", k);
}

/* value = u64 xxh64(rest) | rest; rest = "key:K|writer|seq|" + filler */
static size_t make_value(char *v, unsigned int k, int w, unsigned int seq,
			 unsigned int *rnd)
{
	size_t n = 8, len = 24 + rand_r(rnd) % (MAXV - 40);
	uint64_t h;

	n += (size_t)sprintf(v + n, "key:%u|%d|%u|", k, w, seq);
	while (n < len) {
		v[n] = (char)('a' + (n * 7 + seq) % 26);
		n++;
	}
	h = XXH64(v + 8, n - 8, 0);
	memcpy(v, &h, 8);
	return n;
}

/* 0 if @v is a well-formed value written for key @k (or its final one). */
static int check_value(const char *v, size_t n, unsigned int k)
{
	char want[32];
	uint64_t h;
	size_t wl;

	wl = (size_t)sprintf(want, "final-%u", k);
	if (n == wl && memcmp(v, want, wl) == 0)
		return 0;
	if (n < 8)
		return -1;
	memcpy(&h, v, 8);
	if (h != XXH64(v + 8, n - 8, 0))
		return -1;
	wl = (size_t)sprintf(want, "key:%u|", k);
	return n - 8 >= wl && memcmp(v + 8, want, wl) == 0 ? 0 : -1;
}

static int reader_main(int id)
{
	unsigned int rnd = (unsigned int)getpid();
	char key[32], *v = malloc(MAXV);
	unsigned long reads = 0, hits = 0, bad = 0;
	double end = now_s() + secs;
	kvshm_t *c;

	if (!v || kvshm_open(&c, name, NULL))
		return 2;
	while (now_s() < end) {
		for (int i = 0; i < 1000; i++) {
			unsigned int k = rand_r(&rnd) % NKEYS;
			size_t klen = key_of(key, k), vlen;
			int rc = kvshm_get(c, key, klen, v, MAXV, &vlen);

			reads++;
			if (rc == KVSHM_ENOTFOUND)
				continue;
			if (rc != 0 || check_value(v, vlen, k)) {
				if (bad++ < 3)
					printf("# reader %d: bad read of key:%u: rc=%d "
					       "vlen=%zu head=%.24s\n", id, k, rc,
					       vlen, rc ? "" : v + 8);
				continue;
			}
			hits++;
		}
	}
	printf("# reader %d: %lu reads, %lu hits, %lu bad\n", id, reads, hits, bad);
	fflush(stdout);
	kvshm_close(c);
	free(v);
	return bad == 0 && hits > 0 ? 0 : 1;
}

/* kvshm_clients() callback: this handle's own flags into *@arg. */
static int self_flags_cb(const struct kvshm_client *cl, void *arg)
{
	if (!(cl->flags & KVSHM_CLIENT_SELF))
		return 0;
	*(unsigned int *)arg = cl->flags;
	return 1;
}

/* Whether kvshmd holds this handle's section revoked (as it answers). */
static bool self_revoked(kvshm_t *c)
{
	unsigned int f = 0;

	return kvshm_clients(c, self_flags_cb, &f) == 1 &&
	       (f & KVSHM_CLIENT_REVOKED);
}

/*
 * Rounds of: open a section, take views, wait (asking kvshmd from inside
 * the section) until kvshmd has revoked it, read the old views whole,
 * then check copying reads in the renewed section; the unlock must say
 * KVSHM_EREVOKED.
 */
static int revoked_reader_main(void)
{
	unsigned int rnd = (unsigned int)getpid() * 31u;
	char key[32], *v = malloc(MAXV);
	unsigned long rounds = 0, reads = 0, bad = 0, sum = 0;
	double end = now_s() + secs;
	kvshm_t *c;

	if (!v || kvshm_open(&c, name, NULL))
		return 2;
	while (now_s() < end) {
		const void *view[16];
		size_t vl[16], klen, vlen;
		double give_up = now_s() + 20;
		int i, nv = 0, rc;

		/* kvshmd forgets the last round's revocation only once it
		 * sees that section ended (within 100 ms when idle). */
		while (self_revoked(c) && now_s() < give_up)
			usleep(10000);
		if (kvshm_read_lock(c))
			return 2;
		for (i = 0; i < 16; i++) {
			klen = key_of(key, rand_r(&rnd) % NKEYS);
			if (kvshm_view(c, key, klen, &view[nv], &vl[nv]) == 0)
				nv++;
		}
		/* Its own replacements start grace periods that wait for it,
		 * also once the writers are done. Its own connection's flag,
		 * not readers_revoked_total: under load, kvshmd also revokes
		 * the other readers' sections when they sit preempted. */
		while (!self_revoked(c) && now_s() < give_up) {
			kvshm_set(c, "revoker", 7, key, klen, 0, 0);
			usleep(10000);
		}
		for (i = 0; i < nv; i++)	/* stale: any bytes, no fault */
			for (size_t j = 0; j < vl[i]; j++)
				sum += ((const unsigned char *)view[i])[j];
		for (i = 0; i < 2000; i++) {
			unsigned int k = rand_r(&rnd) % NKEYS;

			klen = key_of(key, k);
			rc = kvshm_get(c, key, klen, v, MAXV, &vlen);
			reads++;
			if (rc != KVSHM_ENOTFOUND &&
			    (rc != 0 || check_value(v, vlen, k)))
				bad++;
		}
		rc = kvshm_read_unlock(c);
		if (rc != KVSHM_EREVOKED) {
			printf("# revoked reader: unlock gave %d\n", rc);
			bad++;
		}
		rounds++;
	}
	if (kvshm_del(c, "revoker", 7) != 0)
		bad++;
	printf("# revoked reader: %lu rounds, %lu reads, %lu bad (%lu)\n",
	       rounds, reads, bad, sum % 10);
	fflush(stdout);
	kvshm_close(c);
	free(v);
	return bad == 0 && rounds > 0 ? 0 : 1;
}

static int writer_main(int w)
{
	unsigned int rnd = (unsigned int)getpid() * 7919u, seq = 0;
	char key[32], *v = malloc(MAXV), *back = malloc(MAXV);
	unsigned long writes = 0, bad = 0;
	double end = now_s() + secs;
	kvshm_t *c;
	unsigned int k;

	if (!v || !back || kvshm_open(&c, name, NULL))
		return 2;
	while (now_s() < end) {
		/* Writer w owns the keys k with k % NR_WRITERS == w. */
		size_t klen, vlen, blen;
		int op = rand_r(&rnd) % 10, rc;

		k = (rand_r(&rnd) % (NKEYS / NR_WRITERS)) * NR_WRITERS + (unsigned)w;
		klen = key_of(key, k);
		if (op == 0) {
			rc = kvshm_del(c, key, klen);
			if (rc != 0 && rc != KVSHM_ENOTFOUND)
				bad++;
			if (kvshm_exists(c, key, klen) != KVSHM_ENOTFOUND)
				bad++;
			continue;
		}
		vlen = make_value(v, k, w, ++seq, &rnd);
		if (kvshm_set(c, key, klen, v, vlen, 0, 0)) {
			bad++;
			continue;
		}
		writes++;
		if (kvshm_get(c, key, klen, back, MAXV, &blen) != 0 ||
		    blen != vlen || memcmp(back, v, vlen) != 0)
			bad++;			/* must read our own write */
	}
	/* Final state the parent checks through kvshmctl. */
	for (k = (unsigned)w; k < 60; k += NR_WRITERS) {
		size_t klen = key_of(key, k);
		char fin[48];
		int n = sprintf(fin, "final-%u", k);

		if (kvshm_set(c, key, klen, fin, (size_t)n, 0, 0))
			bad++;
	}
	printf("# writer %d: %lu writes, %lu bad\n", w, writes, bad);
	fflush(stdout);
	kvshm_close(c);
	free(v);
	free(back);
	return bad == 0 && writes > 0 ? 0 : 1;
}

static int ctl_get_ok(unsigned int k)
{
	char cmd[512], out[64] = "", want[48];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s --name %s get key:%u",
		 build_path("tools/kvshmctl"), name, k);
	f = popen(cmd, "r");
	if (!f)
		return 0;
	if (!fgets(out, sizeof(out), f))
		out[0] = '\0';
	pclose(f);
	snprintf(want, sizeof(want), "final-%u\n", k);
	return strcmp(out, want) == 0;
}

/* Set or delete every key; 0 if all went well. */
static int fill_or_clear(kvshm_t *c, bool fill)
{
	unsigned int rnd = 1, k;
	char key[32], *v = malloc(MAXV);
	int bad = 0;

	for (k = 0; k < NKEYS; k++) {
		size_t klen = key_of(key, k), vlen;
		int rc;

		if (fill) {
			vlen = make_value(v, k, 9, 0, &rnd);
			bad |= kvshm_set(c, key, klen, v, vlen, 0, 0) != 0;
		} else {
			rc = kvshm_del(c, key, klen);
			bad |= rc != 0 && rc != KVSHM_ENOTFOUND;
		}
	}
	free(v);
	return bad;
}

/* Start readers and kill them at random moments until the run ends. */
static int kill_readers(void)
{
	double end = now_s() + secs;
	unsigned int rnd = 42;
	int kills = 0;

	while (now_s() < end) {
		struct timespec ts = { 0, (long)(1 + rand_r(&rnd) % 20) * 1000000L };
		pid_t p;

		fflush(stdout);
		p = fork();
		if (p == 0) {
			secs = 1e9;		/* read until killed */
			_exit(reader_main(99));
		}
		nanosleep(&ts, NULL);
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
		kills++;
	}
	return kills;
}

int main(void)
{
	static const char *const args[] = { "--memory", "64M", "--shards", "16",
					     "--reader-revoke-ms", "100", NULL };
	pid_t pid[NR_READERS + NR_WRITERS], rpid;
	struct test_daemon d;
	const char *env = getenv("KVSHM_TORTURE_SECS");
	long long baseline;
	int i, st, kills, ctl_ok = 1;
	kvshm_t *c;

	if (env && atof(env) > 0)
		secs = atof(env);
#ifdef KVSHM_TEST_FENCED
	setenv("KVSHMD_NO_MEMBARRIER", "1", 1);
	setenv("KVSHM_FENCED", "1", 1);
#endif
	plan_tests(NR_READERS + NR_WRITERS + 12);
	start_kvshmd(&d, "conc", args);
	name = d.name;
	if (kvshm_open(&c, name, NULL))
		bail_out("cannot open");
	{
		char *text = NULL;
		const char *want = getenv("KVSHMD_NO_MEMBARRIER") ?
				   "\nmembarrier fenced\n" : "\nmembarrier ";

		ok(kvshm_stats(c, &text) == 0 && strstr(text, want),
		   "stats report the read-section mode (%s)",
		   getenv("KVSHMD_NO_MEMBARRIER") ? "fenced" : "as the kernel allows");
		free(text);
	}
	ok(fill_or_clear(c, true) == 0 && fill_or_clear(c, false) == 0 &&
	   wait_stat(c, "retired_pending", 0),
	   "a first fill and delete of every key settles");
	baseline = stat_of(c, "memory_used");

	for (i = 0; i < NR_READERS + NR_WRITERS; i++) {
		pid[i] = fork();
		if (pid[i] < 0)
			bail_out("fork failed");
		if (pid[i] == 0)
			_exit(i < NR_READERS ? reader_main(i) :
			      writer_main(i - NR_READERS));
	}
	fflush(stdout);
	rpid = fork();
	if (rpid < 0)
		bail_out("fork failed");
	if (rpid == 0)
		_exit(revoked_reader_main());
	kills = kill_readers();
	for (i = 0; i < NR_READERS + NR_WRITERS; i++) {
		waitpid(pid[i], &st, 0);
		if (i < NR_READERS)
			ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			   "reader %d saw only values that were written", i);
		else
			ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			   "writer %d read its own writes with no error",
			   i - NR_READERS);
	}
	waitpid(rpid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "a reader whose sections were revoked still read only written "
	   "values, and each unlock said KVSHM_EREVOKED");
	ok(stat_of(c, "readers_revoked_total") > 0 &&
	   wait_stat(c, "readers_revoked", 0),
	   "kvshmd revoked sections, and none is left revoked");
	for (i = 0; i < 60; i++)
		if (!ctl_get_ok((unsigned)i))
			ctl_ok = 0;
	ok(ctl_ok, "kvshmctl reads the final values the library wrote");
	ok(kills > 0, "%d readers were SIGKILLed at random moments", kills);
	ok(wait_stat(c, "readers_stalled", 0) &&
	   wait_stat(c, "reader_slots_used", 0),
	   "every killed reader's slot was released");
	ok(fill_or_clear(c, false) == 0 && kvshm_exists(c, "key:1", 5) ==
	   KVSHM_ENOTFOUND, "deleting every key succeeds");
	ok(wait_stat(c, "retired_pending", 0),
	   "reclamation drains: nothing is left pinned");
	ok(stat_of(c, "memory_used") == baseline,
	   "used memory returns exactly to its baseline (%lld)", baseline);
	kvshm_close(c);
	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	ok(!shm_exists(d.name), "its shared-memory objects are gone");
	return exit_status();
}
