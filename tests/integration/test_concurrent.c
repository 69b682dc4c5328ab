// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_concurrent.c - several client processes (fork)
 * read and write one cache at once. Every value carries its own key and an
 * XXH64 checksum, so a reader can tell a torn or stale-memory read from a
 * value that was really written. Writers own disjoint keys and check they
 * read their own writes; at the end kvshmctl must see what they wrote.
 *
 * Runs ~2 s by default; KVSHM_TORTURE_SECS=N runs longer.
 */
#include <inttypes.h>
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

#define NR_READERS	4
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

int main(void)
{
	static const char *const args[] = { "--memory", "64M", "--shards", "16",
					     NULL };
	pid_t pid[NR_READERS + NR_WRITERS];
	struct test_daemon d;
	const char *env = getenv("KVSHM_TORTURE_SECS");
	int i, st, ctl_ok = 1;

	if (env && atof(env) > 0)
		secs = atof(env);
	plan_tests(NR_READERS + NR_WRITERS + 3);
	start_kvshmd(&d, "conc", args);
	name = d.name;

	for (i = 0; i < NR_READERS + NR_WRITERS; i++) {
		pid[i] = fork();
		if (pid[i] < 0)
			bail_out("fork failed");
		if (pid[i] == 0)
			_exit(i < NR_READERS ? reader_main(i) :
			      writer_main(i - NR_READERS));
	}
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
	for (i = 0; i < 60; i++)
		if (!ctl_get_ok((unsigned)i))
			ctl_ok = 0;
	ok(ctl_ok, "kvshmctl reads the final values the library wrote");
	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	ok(!shm_exists(d.name), "its shared-memory objects are gone");
	return exit_status();
}
