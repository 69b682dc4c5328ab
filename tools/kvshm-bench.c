// SPDX-License-Identifier: MIT
/*
 * tools/kvshm-bench.c - read-path benchmark of kvshm against a private
 * in-process hash table (the floor), in one run, on the same keys.
 *
 * It starts its own kvshmd (--kvshmd PATH) or uses a running one (--name),
 * loads N keys of 14 bytes with V-byte values through kvshm_mset(), and
 * then, for 1..P reader processes, measures
 *   - throughput: independent GETs of keys drawn uniformly or Zipf;
 *   - latency: dependent GETs (each value holds the index of the next key
 *     to read, so every lookup waits for the one before), timed one by one,
 *     p50/p99/p99.9;
 *   - misses: GETs of keys that are not there.
 * The floor runs the same key sequences on a private table: an array of
 * (tag, pointer) slots pointing at malloc()ed key+value items, that is the
 * same indirect layout, without shared memory or epochs.
 *
 * Public API only (kvshm.h), plus libxxhash for the floor's hashing.
 * Timing uses CLOCK_MONOTONIC (vDSO); the per-op latency includes one
 * clock read (measured and printed as "timer").
 */
#include <errno.h>
#include <sched.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include <kvshm.h>

#include "lathist.h"

#define KLEN		14
#define SEQ_LEN		(1U << 20)	/* pre-drawn key indexes, cycled */
#define MAX_ROUNDS	15

struct opts {
	const char *name;
	const char *kvshmd;
	uint64_t keys;
	uint32_t vsize;
	int readers;
	double secs;
	double zipf;			/* 0 = uniform */
	bool writer;
	const char *memory;
	const char *eviction;		/* of the spawned daemon, or NULL */
	int rounds;			/* passes per point, systems in turn */
	bool cold;			/* no untimed read of every key first */
};

static struct opts o = {
	.keys = 1000000, .vsize = 100, .readers = 2, .secs = 2.0, .rounds = 3,
};

static char *keys;			/* keys * KLEN bytes */
static uint32_t *seq;			/* SEQ_LEN key indexes */
static uint32_t *next_of;		/* one random cycle through all keys */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static const char *key_of(uint64_t i)
{
	return keys + i * KLEN;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Zipf(theta) over [0, n): Gray et al., "Quickly generating billion-record
 * synthetic databases". Ranks are scattered by a multiplicative hash so
 * hot keys are not neighbours. */
static void draw_sequence(void)
{
	uint64_t i, n = o.keys;
	double zetan = 0, alpha = 0, eta = 0, zeta2 = 0;

	if (o.zipf > 0) {
		for (i = 1; i <= n; i++)
			zetan += 1.0 / pow((double)i, o.zipf);
		zeta2 = 1.0 + 1.0 / pow(2.0, o.zipf);
		alpha = 1.0 / (1.0 - o.zipf);
		eta = (1 - pow(2.0 / (double)n, 1 - o.zipf)) / (1 - zeta2 / zetan);
	}
	for (i = 0; i < SEQ_LEN; i++) {
		uint64_t r;

		if (o.zipf > 0) {
			double u = (double)(xorshift() >> 11) / 9007199254740992.0;
			double uz = u * zetan;

			if (uz < 1.0)
				r = 0;
			else if (uz < zeta2)
				r = 1;
			else
				r = (uint64_t)((double)n * pow(eta * u - eta + 1, alpha));
			if (r >= n)
				r = n - 1;
			r = (r * 0x9e3779b97f4a7c15ULL) % n;
		} else {
			r = xorshift() % n;
		}
		seq[i] = (uint32_t)r;
	}
}

/*
 * The dependent chain: Sattolo's algorithm gives a permutation that is one
 * cycle through every key, so a walk never settles into a cached loop (a
 * random mapping would: its cycles are only ~sqrt(n) long).
 */
static void draw_cycle(void)
{
	uint32_t *perm = malloc(o.keys * sizeof(*perm));
	uint64_t i;

	next_of = malloc(o.keys * sizeof(*next_of));
	for (i = 0; i < o.keys; i++)
		perm[i] = (uint32_t)i;
	for (i = o.keys - 1; i > 0; i--) {
		uint64_t j = xorshift() % i;	/* j < i: one cycle */
		uint32_t t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	for (i = 0; i < o.keys; i++)
		next_of[perm[i]] = perm[(i + 1) % o.keys];
	free(perm);
}

/* Value i: 8 bytes "next index" for the dependent chain, then filler. */
static void make_value(char *v, uint64_t i)
{
	uint64_t next = next_of[i];

	memset(v, 'a' + (int)(i % 26), o.vsize);
	memcpy(v, &next, sizeof(next) < o.vsize ? sizeof(next) : o.vsize);
}

/* ---- the floor: a private table with the same indirect layout ---- */

struct pslot {
	uint64_t tag;
	char *item;			/* key (KLEN) then value */
};

static struct pslot *ptab;
static uint64_t pmask;

static void private_build(void)
{
	uint64_t i, n = 1;
	char *v = malloc(o.vsize);

	while (n < o.keys * 2)
		n <<= 1;
	ptab = calloc(n, sizeof(*ptab));
	pmask = n - 1;
	for (i = 0; i < o.keys; i++) {
		uint64_t h = XXH3_64bits(key_of(i), KLEN), j = h & pmask;
		char *it = malloc(KLEN + o.vsize);

		memcpy(it, key_of(i), KLEN);
		make_value(v, i);
		memcpy(it + KLEN, v, o.vsize);
		while (ptab[j].item)
			j = (j + 1) & pmask;
		ptab[j].tag = h;
		ptab[j].item = it;
	}
	free(v);
}

static int private_get(const char *key, size_t klen, void *buf, size_t cap)
{
	uint64_t h = XXH3_64bits(key, klen), j = h & pmask;

	for (; ptab[j].item; j = (j + 1) & pmask) {
		if (ptab[j].tag == h && memcmp(ptab[j].item, key, klen) == 0) {
			memcpy(buf, ptab[j].item + KLEN, o.vsize < cap ? o.vsize : cap);
			return 0;
		}
	}
	return KVSHM_ENOTFOUND;
}

/* ---- one measurement, in one process ---- */

enum mode { THROUGHPUT, LATENCY, MISS };

struct result {
	uint64_t ops;
	uint64_t errors;
	double secs;
	double warm_secs;		/* the untimed warm-up before it */
	uint64_t hist[KVT_HBUCKETS];
};

static void run(kvshm_t *c, enum mode m, struct result *r, unsigned int salt)
{
	char *buf = malloc(o.vsize + 64), miss[KLEN + 8];
	double end = now_s() + o.secs;
	uint64_t pos = (salt * 7919ULL) % SEQ_LEN, idx = seq[pos];
	size_t vlen;
	int rc;

	memset(r, 0, sizeof(*r));
	r->secs = now_s();
	while (now_s() < end) {
		unsigned int i;

		for (i = 0; i < 4096; i++) {
			uint64_t t0 = 0;
			const char *k;

			if (m == LATENCY) {
				k = key_of(idx);
				t0 = now_ns();
			} else if (m == MISS) {
				memcpy(miss, key_of(seq[pos]), KLEN);
				miss[0] = 'm';
				k = miss;
				pos = (pos + 1) & (SEQ_LEN - 1);
			} else {
				k = key_of(seq[pos]);
				pos = (pos + 1) & (SEQ_LEN - 1);
			}
			if (c)
				rc = kvshm_get(c, k, KLEN, buf, o.vsize + 64, &vlen);
			else
				rc = private_get(k, KLEN, buf, o.vsize + 64);
			if ((rc != 0) != (m == MISS))
				r->errors++;
			if (m == LATENCY) {
				r->hist[kvt_hist_bucket(now_ns() - t0)]++;
				memcpy(&idx, buf, sizeof(idx));
				if (idx >= o.keys)
					idx = 0;
			}
		}
		r->ops += 4096;
	}
	r->secs = now_s() - r->secs;
	free(buf);
}

/*
 * warm_up - read every key once, in key order, untimed, in the process
 * that then measures: what a long-lived client has long since done. A new
 * process maps kvshm's segment page by page as it first touches it (a
 * minor fault each; fork() does not copy the page tables of a shared
 * mapping), while the floor's private memory comes with the parent's page
 * tables; and this VM takes back memory left idle for a while, which a
 * pass then pays for (BENCHMARKS.md, 10M keys). Returns its seconds.
 */
static double warm_up(kvshm_t *c)
{
	char *buf = malloc(o.vsize + 64);
	double t0 = now_s();
	size_t vlen;
	uint64_t i;

	for (i = 0; buf && i < o.keys; i++) {
		if (c)
			kvshm_get(c, key_of(i), KLEN, buf, o.vsize + 64, &vlen);
		else
			private_get(key_of(i), KLEN, buf, o.vsize + 64);
	}
	free(buf);
	return now_s() - t0;
}

/* Run @m in @np processes at once; sum their results into @sum. */
static int run_parallel(bool shared, enum mode m, int np, struct result *sum)
{
	struct result *res;
	pid_t pid[64];
	int i, st, bad = 0;
	unsigned int b;

	memset(sum, 0, sizeof(*sum));
	res = mmap(NULL, sizeof(*res) * (size_t)np, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		return -1;
	fflush(stdout);
	for (i = 0; i < np; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			kvshm_t *c = NULL;
			double warm = 0;

			if (shared && kvshm_open(&c, o.name, NULL))
				_exit(2);
			if (!o.cold)
				warm = warm_up(c);
			run(c, m, &res[i], (unsigned int)i + 1);
			res[i].warm_secs = warm;	/* run() cleared res[i] */
			kvshm_close(c);
			_exit(0);
		}
	}
	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < np; i++) {
		waitpid(pid[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad = 1;
		sum->ops += res[i].ops;
		sum->errors += res[i].errors;
		sum->secs += res[i].secs / np;
		sum->warm_secs += res[i].warm_secs / np;
		for (b = 0; b < KVT_HBUCKETS; b++)
			sum->hist[b] += res[i].hist[b];
	}
	munmap(res, sizeof(*res) * (size_t)np);
	return bad ? -1 : 0;
}

/* ---- writes: SET round trips, timed one by one ---- */

static int pin(pid_t pid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(pid, sizeof(set), &set);
}

/*
 * Time @n SETs from one process pinned to CPU @cpu (the daemon pinned to
 * @dcpu by the caller): wake-ups dominate a round trip, and their cost
 * depends on whether the two processes share a CPU.
 */
static int run_sets(int cpu, int n, struct result *sum)
{
	struct result *res;
	pid_t pid;
	int st;

	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char *v = malloc(o.vsize);
		kvshm_t *c;
		int i;

		if (pin(0, cpu) || kvshm_open(&c, o.name, NULL))
			_exit(2);
		memset(res, 0, sizeof(*res));
		res->secs = now_s();
		for (i = 0; i < n; i++) {
			uint64_t k = seq[i & (SEQ_LEN - 1)], t0;

			make_value(v, k);
			t0 = now_ns();
			if (kvshm_set(c, key_of(k), KLEN, v, o.vsize, 0, 0))
				res->errors++;
			res->hist[kvt_hist_bucket(now_ns() - t0)]++;
		}
		res->ops = (uint64_t)n;
		res->secs = now_s() - res->secs;
		kvshm_close(c);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	*sum = *res;
	munmap(res, sizeof(*res));
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* ---- set-up ---- */

static pid_t daemon_pid;
static char daemon_dir[64];

static void stop_daemon(void)
{
	int st;

	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, &st, 0);
		daemon_pid = 0;
	}
	if (daemon_dir[0]) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", daemon_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "kvshm-bench: could not remove %s\n",
				daemon_dir);
		daemon_dir[0] = '\0';
	}
}

static int spawn_daemon(void)
{
	static char name[64];
	kvshm_t *c;
	int i;

	snprintf(name, sizeof(name), "bench-%d", (int)getpid());
	snprintf(daemon_dir, sizeof(daemon_dir), "/tmp/kvshm-bench-XXXXXX");
	if (!mkdtemp(daemon_dir))
		return -1;
	daemon_pid = fork();
	if (daemon_pid == 0) {
		execl(o.kvshmd, o.kvshmd, "--foreground", "--name", name,
		      "--data-dir", daemon_dir, "--memory", o.memory,
		      "--eviction", o.eviction ? o.eviction : "noeviction",
		      (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		int st;

		if (waitpid(daemon_pid, &st, WNOHANG) == daemon_pid) {
			daemon_pid = 0;		/* exited: a bad option? */
			return -1;
		}
		if (kvshm_open(&c, name, NULL) == 0) {
			kvshm_close(c);
			o.name = name;
			return 0;
		}
		usleep(50000);
	}
	return -1;
}

/* Bytes of memory the reader area of cache @name takes now (tmpfs). */
static long long rw_resident(const char *name)
{
	char path[160];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/shm/kvshm-%s.rw", name);
	return stat(path, &st) == 0 ? (long long)st.st_blocks * 512 : -1;
}

static long long stat_of(kvshm_t *c, const char *name)
{
	char *text, *p, key[64];
	long long v = -1;

	if (kvshm_stats(c, &text))
		return -1;
	snprintf(key, sizeof(key), "\n%s ", name);
	p = strstr(text, key);
	if (p)
		v = atoll(p + strlen(key));
	free(text);
	return v;
}

static int load(kvshm_t *c)
{
	enum { BATCH = 2000 };
	struct kvshm_kv kv[BATCH];
	char *vals = malloc((size_t)BATCH * o.vsize);
	uint64_t i, n;
	int rc = 0;

	for (i = 0; i < o.keys && rc == 0; i += n) {
		uint64_t j;

		n = o.keys - i < BATCH ? o.keys - i : BATCH;
		for (j = 0; j < n; j++) {
			kv[j].key = key_of(i + j);
			kv[j].klen = KLEN;
			kv[j].val = vals + j * o.vsize;
			kv[j].vlen = o.vsize;
			kv[j].ttl_ms = 0;
			make_value(vals + j * o.vsize, i + j);
		}
		rc = kvshm_mset(c, kv, (size_t)n);
	}
	free(vals);
	return rc;
}

/* A writer process replacing random keys as fast as it can. */
static pid_t start_writer(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		char *v = malloc(o.vsize);
		kvshm_t *c;
		uint64_t i = 0;

		if (kvshm_open(&c, o.name, NULL))
			_exit(2);
		for (;;) {
			uint64_t k = seq[(i++ * 31) & (SEQ_LEN - 1)];

			make_value(v, k);
			if (kvshm_set(c, key_of(k), KLEN, v, o.vsize, 0, 0))
				_exit(1);
		}
	}
	return pid;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: kvshm-bench [OPTION]...\n"
"  --kvshmd PATH     start this kvshmd for the run (else --name must serve)\n"
"  --name NAME       use the daemon serving NAME\n"
"  --memory SIZE     heap of the spawned daemon (default: sized to the keys)\n"
"  --eviction POLICY eviction policy of the spawned daemon (default\n"
"                    noeviction, whose readers leave no access hints; lru\n"
"                    and lfu make them leave hints, sieve a visited bit)\n"
"  --keys N          keys to load (default 1000000)\n"
"  --value-size B    value bytes, at least 8 (default 100)\n"
"  --readers P       measure with 1..P reader processes (default 2)\n"
"  --secs S          seconds per measurement (default 2)\n"
"  --zipf THETA      Zipf key distribution, 0 < THETA < 1 (default uniform)\n"
"  --writer          one process replaces keys during the reads\n"
"  --rounds K        passes per point, kvshm and the floor in turn; the\n"
"                    median pass's rate, all passes' latencies (default 3,\n"
"                    1..15)\n"
"  --cold            no untimed read of every key by each reader process\n"
"                    before its pass (its page tables then fill during it)\n");
}

static double rate_of(const struct result *r)
{
	return r->secs > 0 ? (double)r->ops / r->secs : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of @n values (the mean of the middle two if @n is even). */
static double median(const double *v, int n)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, sizeof(*s) * (size_t)n);
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/*
 * Fold @k rounds @rr into @out: the median round's rate (its ops over its
 * seconds), the errors of all, and the latencies of all rounds together.
 */
static void fold_rounds(const struct result *rr, int k, struct result *out)
{
	double rate[MAX_ROUNDS];
	unsigned int b;
	int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < k; i++) {
		rate[i] = rate_of(&rr[i]);
		out->errors += rr[i].errors;
		for (b = 0; b < KVT_HBUCKETS; b++)
			out->hist[b] += rr[i].hist[b];
	}
	out->secs = 1.0;
	out->ops = (uint64_t)(median(rate, k) + 0.5);
}

static void report(const char *what, const char *sys, int np,
		   const struct result *r, bool lat)
{
	double per = rate_of(r);

	if (lat)
		printf("| %-10s | %-8s | %2d | %10.2f M/s | %6.1f ns | %5" PRIu64
		       " | %5" PRIu64 " | %6" PRIu64 " | %" PRIu64 " |\n",
		       what, sys, np, per / 1e6, 1e9 * np / per,
		       kvt_hist_percentile(r->hist, 0.5),
		       kvt_hist_percentile(r->hist, 0.99),
		       kvt_hist_percentile(r->hist, 0.999), r->errors);
	else
		printf("| %-10s | %-8s | %2d | %10.2f M/s | %6.1f ns |     - |"
		       "     - |      - | %" PRIu64 " |\n", what, sys, np,
		       per / 1e6, 1e9 * np / per, r->errors);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "kvshmd", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "memory", required_argument, NULL, 'm' },
		{ "eviction", required_argument, NULL, 'e' },
		{ "keys", required_argument, NULL, 'k' },
		{ "value-size", required_argument, NULL, 'v' },
		{ "readers", required_argument, NULL, 'r' },
		{ "secs", required_argument, NULL, 's' },
		{ "zipf", required_argument, NULL, 'z' },
		{ "writer", no_argument, NULL, 'w' },
		{ "rounds", required_argument, NULL, 'R' },
		{ "cold", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const mname[] = { "get hit", "get dep", "get miss" };
	char memory[32];
	struct result r;
	double t0, t_load, t_floor;
	long long used0, used, taken0, taken, pgsz, hints0, hints, rw0, rw;
	double over;
	pid_t writer = 0;
	kvshm_t *c;
	uint64_t i;
	int opt, np, m, rc = 0;
	uint64_t t_timer;
	static char notes[3 * 64][256];
	long long hint_mode;
	double warm[2] = { 0, 0 };	/* kvshm, private: sum over passes */
	int nnotes = 0, npasses = 0;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'd': o.kvshmd = optarg; break;
		case 'n': o.name = optarg; break;
		case 'm': o.memory = optarg; break;
		case 'e': o.eviction = optarg; break;
		case 'k': o.keys = strtoull(optarg, NULL, 10); break;
		case 'v': o.vsize = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'r': o.readers = atoi(optarg); break;
		case 's': o.secs = atof(optarg); break;
		case 'z': o.zipf = atof(optarg); break;
		case 'w': o.writer = true; break;
		case 'R': o.rounds = atoi(optarg); break;
		case 'C': o.cold = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if ((!o.kvshmd == !o.name) || (o.eviction && !o.kvshmd) ||
	    o.keys == 0 || o.keys > UINT32_MAX ||
	    o.vsize < 8 || o.readers < 1 || o.readers > 64 || o.secs <= 0 ||
	    o.zipf < 0 || o.zipf >= 1 || o.rounds < 1 ||
	    o.rounds > MAX_ROUNDS) {
		usage(stderr);
		return 2;
	}
	if (!o.memory) {
		/* room for the data three times over, and 64M at least */
		uint64_t mb = (o.keys * (o.vsize + 64) * 3 >> 20) + 64;

		snprintf(memory, sizeof(memory), "%" PRIu64 "M", mb);
		o.memory = memory;
	}
	keys = malloc(o.keys * KLEN + 1);
	seq = malloc(SEQ_LEN * sizeof(*seq));
	for (i = 0; i < o.keys; i++) {
		char k[32];

		snprintf(k, sizeof(k), "key:%010" PRIu64, (uint64_t)(i % 10000000000ULL));
		memcpy(keys + i * KLEN, k, KLEN);
	}
	draw_sequence();
	draw_cycle();
	if (o.kvshmd && spawn_daemon() < 0) {
		fprintf(stderr, "kvshm-bench: could not start %s\n", o.kvshmd);
		stop_daemon();
		return 1;
	}
	if (kvshm_open(&c, o.name, NULL)) {
		fprintf(stderr, "kvshm-bench: cannot attach to '%s'\n", o.name);
		stop_daemon();
		return 1;
	}
	used0 = stat_of(c, "memory_used");
	hints0 = stat_of(c, "hint_words_used");
	rw0 = rw_resident(o.name);
	/* Pages no longer free: chunks in use plus the slack of their pages. */
	taken0 = stat_of(c, "memory_pages_total") - stat_of(c, "memory_pages_free");
	pgsz = stat_of(c, "memory_page_size");
	t0 = now_s();
	if (load(c)) {
		fprintf(stderr, "kvshm-bench: loading failed\n");
		rc = 1;
		goto out;
	}
	t_load = now_s() - t0;
	used = stat_of(c, "memory_used");
	taken = stat_of(c, "memory_pages_total") - stat_of(c, "memory_pages_free");
	hints = stat_of(c, "hint_words_used");
	rw = rw_resident(o.name);
	t0 = now_s();
	private_build();
	t_floor = now_s() - t0;
	t0 = now_s();
	for (i = 0; i < 1000000; i++)
		t_timer = now_ns();
	t_timer = (uint64_t)((now_s() - t0) * 1e3);	/* ns per clock read */

	printf("# kvshm-bench: %" PRIu64 " keys of %d bytes, %u-byte values, %s, "
	       "%.1f s per pass, %d rounds%s\n", o.keys, KLEN, o.vsize,
	       o.zipf > 0 ? "zipf" : "uniform", o.secs, o.rounds,
	       o.writer ? ", one writer replacing keys throughout" : "");
	if (o.zipf > 0)
		printf("# zipf theta %.2f\n", o.zipf);
	printf("# load: %.2f s through kvshm_mset (%.2f M keys/s); floor table "
	       "built in %.2f s\n", t_load, (double)o.keys / t_load / 1e6, t_floor);
	printf("# kvshm memory: %.1f B/item in the heap (%.1f B over the %d+%u "
	       "payload, index included)\n",
	       (double)(used - used0) / (double)o.keys,
	       (double)(used - used0) / (double)o.keys - KLEN - o.vsize, KLEN,
	       o.vsize);
	printf("# kvshm heap pages taken: %.1f B/item (%.1f B over the payload; "
	       "with the slack of partly used pages)\n",
	       (double)(taken - taken0) * pgsz / (double)o.keys,
	       (double)(taken - taken0) * pgsz / (double)o.keys - KLEN - o.vsize);
	over = (double)(used - used0) / (double)o.keys - KLEN - o.vsize;
	printf("# kvshm hint words: %.1f B/item (4 B per bucket entry), %.1f "
	       "B/item of the reader area resident\n",
	       4.0 * (double)(hints - hints0) / (double)o.keys,
	       rw < 0 || rw0 < 0 ? 0.0 : (double)(rw - rw0) / (double)o.keys);
	printf("# kvshm overhead per item: %.1f B (header, index entry, hint "
	       "word and allocation slack)\n",
	       over + 4.0 * (double)(hints - hints0) / (double)o.keys);
	hint_mode = stat_of(c, "hints_by_readers");
	printf("# eviction policy: %s; readers leave access hints: %s\n",
	       o.eviction ? o.eviction : o.kvshmd ? "noeviction" : "the daemon's",
	       hint_mode == 0 ? "no" : hint_mode == 1 ? "yes" :
	       hint_mode == 2 ? "the visited bit only" : "unknown");
	printf("# timer: %" PRIu64 " ns per clock read, included in the "
	       "get dep latencies\n", t_timer);
	printf("# latency buckets: %d to each power of 2 (%d ns wide from "
	       "512 to 1023 ns); p50, p99 and p99.9 are their bucket's lower "
	       "edge\n\n", KVT_HSUB, 512 / KVT_HSUB);
	printf("| op         | system   |  P |  throughput   |  per op  |   p50 |"
	       "   p99 |  p99.9 | errors |\n");
	printf("|------------|----------|----|---------------|----------|-------|"
	       "-------|--------|--------|\n");
	if (o.writer)
		writer = start_writer();
	for (m = THROUGHPUT; m <= MISS; m++) {
		for (np = 1; np <= o.readers; np++) {
			struct result rk[MAX_ROUNDS], rp[MAX_ROUNDS];
			double ratio[MAX_ROUNDS];
			int k;

			for (k = 0; k < o.rounds; k++) {
				if (run_parallel(true, (enum mode)m, np,
						 &rk[k]) < 0 ||
				    run_parallel(false, (enum mode)m, np,
						 &rp[k]) < 0)
					rc = 1;
				warm[0] += rk[k].warm_secs;
				warm[1] += rp[k].warm_secs;
				npasses++;
				ratio[k] = rate_of(&rk[k]) > 0 ?
					   rate_of(&rp[k]) / rate_of(&rk[k]) : 0;
			}
			fold_rounds(rk, o.rounds, &r);
			report(mname[m], "kvshm", np, &r, m == LATENCY);
			fold_rounds(rp, o.rounds, &r);
			report(mname[m], "private", np, &r, m == LATENCY);
			snprintf(notes[nnotes], sizeof(notes[0]),
				 "# %s, P=%d: kvshm per op / floor per op, by "
				 "round:", mname[m], np);
			for (k = 0; k < o.rounds; k++)
				snprintf(notes[nnotes] + strlen(notes[nnotes]),
					 sizeof(notes[0]) - strlen(notes[nnotes]),
					 " %.2f", ratio[k]);
			snprintf(notes[nnotes] + strlen(notes[nnotes]),
				 sizeof(notes[0]) - strlen(notes[nnotes]),
				 "; median %.2f", median(ratio, o.rounds));
			nnotes++;
		}
	}
	if (writer > 0) {
		int st;

		kill(writer, SIGTERM);
		waitpid(writer, &st, 0);
	}
	if (daemon_pid > 0 && sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
		/* The daemon's server thread is its main thread. */
		static const struct { int c, d; const char *what; } pl[] = {
			{ 0, 0, "set same" }, { 0, 1, "set other" },
		};
		unsigned int p;

		for (p = 0; p < 2; p++) {
			if (pin(daemon_pid, pl[p].d) ||
			    run_sets(pl[p].c, 20000, &r) < 0) {
				rc = 1;
				continue;
			}
			report(pl[p].what, "kvshm", 1, &r, true);
		}
		printf("\n# set same/other: one process, 20000 SETs of %u-byte "
		       "values, client and kvshmd pinned to the same vCPU or to "
		       "different ones; per-op latency in ns\n", o.vsize);
	}
	printf("\n");
	for (i = 0; i < (uint64_t)nnotes; i++)
		printf("%s\n", notes[i]);
	printf("\n# per op = wall time per op per process, of the median of "
	       "%d rounds (kvshm and the floor in turn); latencies in ns, "
	       "over all rounds\n", o.rounds);
	if (o.cold)
		printf("# cold: no warm-up; a reader process's first touch of "
		       "each page of the segment is in its pass\n");
	else if (npasses)
		printf("# warm-up: before its pass, each reader process read "
		       "every key once, untimed: kvshm %.3f ms, private %.3f "
		       "ms (mean)\n", warm[0] / npasses * 1e3,
		       warm[1] / npasses * 1e3);
out:
	kvshm_close(c);
	stop_daemon();
	return rc;
}
