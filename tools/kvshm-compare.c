// SPDX-License-Identifier: MIT
/*
 * tools/kvshm-compare.c - one workload driver for kvshm, Redis, memcached
 * and LMDB, so that every system runs the same keys, values, key
 * distribution, operation counts and numbers of client processes.
 * tools/compare (a bash script) starts the servers and calls it; see
 * BENCHMARKS.md, "Side by side: Redis, memcached, LMDB".
 *
 * Backends (one interface: open/close per process, get, set, mget, batched
 * get/set, bulk load, the store's own memory accounting):
 *   kvshm      libkvshm: reads from shared memory, writes to kvshmd;
 *   redis      hiredis over a Unix socket (redisCommandArgv; the pipelined
 *              variant appends D commands, then reads D replies);
 *   memcached  libmemcached over a Unix socket, ASCII protocol (the
 *              pipelined variant: a D-key multi-get; D-1 "noreply" sets and
 *              one acknowledged set, which orders after them);
 *   lmdb       liblmdb: mdb_get in a read transaction (renewed per GET or
 *              MGET, so readers see new writes), one write transaction per
 *              SET (MDB_NOSYNC: no persistence, as the cache scenarios);
 *   null       does nothing: the harness's own cost, for instruction counts.
 * The peers are compiled in only when configure found their client
 * library; kvshm and null always are.
 *
 * Workloads: get-hit, get-miss, set, mix90 (90% GET hits, 10% SETs),
 * mix50, mget10 (one MGET of 10 keys is one op). Keys are 14 bytes,
 * "key:%010u" (misses: "mey:..."), drawn uniformly or Zipf(theta) from one
 * pre-drawn sequence per distribution (fixed seed), each process starting
 * at its own offset in it. Each measurement is two passes, all processes
 * starting each at once (a pipe barrier): throughput from --ops untimed
 * operations per process (one clock read at each end), then latency from
 * a quarter as many (at least 20,000) on the keys that follow, each op
 * timed with one clock read (CLOCK_MONOTONIC, vDSO) into a log-bucket
 * histogram (32 buckets per power of two, tools/lathist.h); a
 * pipelined batch is timed as one round trip. See run_ops() for why.
 *
 * --icount runs one process, in this process, with callgrind's collection
 * switched on only around each workload's op loop (run it under
 * valgrind --tool=callgrind --collect-atstart=no); with --server-pid of a
 * server that itself runs under callgrind it zeroes and dumps the server's
 * counters around the same loop (callgrind_control). tools/compare reads
 * the dumps.
 *
 * Output: one CSV row per measurement appended to --csv (the columns are
 * in csv_header()); latency distributions in --hist-dir.
 */
#include <errno.h>
#include <fcntl.h>
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

#include <kvshm.h>

#include "lathist.h"
#include "splitmix.h"

#ifdef HAVE_VALGRIND_CALLGRIND_H
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_TOGGLE_COLLECT do { } while (0)
#define CALLGRIND_DUMP_STATS_AT(s) do { (void)(s); } while (0)
#define RUNNING_ON_VALGRIND 0
#endif
#ifdef HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif
#ifdef HAVE_LIBMEMCACHED
#include <libmemcached/memcached.h>
#endif
#ifdef HAVE_LMDB
#include <lmdb.h>
#endif

#define KLEN		14
#define SEQ_LEN		(1U << 20)	/* pre-drawn key indexes, cycled */
#define MAX_ROUNDS	15		/* --rounds */
#define MGET_N		10
#define MAX_DEPTH	256
#define MAX_PROCS	64

/* ---- options ---- */

struct opts {
	const char *backend;
	const char *name;		/* kvshm cache name */
	const char *socket;		/* redis / memcached socket */
	const char *lmdb_dir;
	const char *workloads;
	const char *procs;
	const char *dists;
	const char *csv;
	const char *hist_dir;
	const char *label;		/* dataset label for the CSV */
	uint64_t keys;
	uint32_t vsize;
	uint64_t ops;			/* per process */
	int rounds;			/* throughput rounds per point */
	double theta;
	int depth;			/* > 1: pipelined / batched variant */
	int server_pid;
	bool load;
	bool icount;
	bool server_callgrind;
};

static struct opts o = {
	.workloads = "get-hit,get-miss,set,mix90,mix50,mget10",
	.procs = "1,2", .dists = "uniform,zipf", .label = "",
	.keys = 100000, .vsize = 100, .ops = 100000, .theta = 0.99, .depth = 1,
	.rounds = 3,
};

/* ---- clock, random numbers, key sequences ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}


/*
 * struct zipf - Zipf(theta) over [0, n), Gray et al., "Quickly generating
 * billion-record synthetic databases" (as YCSB). Rank r has probability
 * (1 / (r+1)^theta) / zeta(n). Ranks are scattered over the key space by a
 * multiplicative hash, so hot keys are not neighbours.
 */
struct zipf {
	uint64_t n;
	double theta, zetan, zeta2, alpha, eta;
};

static void zipf_init(struct zipf *z, uint64_t n, double theta)
{
	uint64_t i;

	z->n = n;
	z->theta = theta;
	z->zetan = 0;
	for (i = 1; i <= n; i++)
		z->zetan += 1.0 / pow((double)i, theta);
	z->zeta2 = 1.0 + 1.0 / pow(2.0, theta);
	z->alpha = 1.0 / (1.0 - theta);
	z->eta = (1 - pow(2.0 / (double)n, 1 - theta)) /
		 (1 - z->zeta2 / z->zetan);
}

/* The rank (0 = hottest) for a uniform @u in [0, 1). */
static uint64_t zipf_rank(const struct zipf *z, double u)
{
	double uz = u * z->zetan;
	uint64_t r;

	if (uz < 1.0)
		return 0;
	if (uz < z->zeta2)
		return 1;
	r = (uint64_t)((double)z->n * pow(z->eta * u - z->eta + 1, z->alpha));
	return r >= z->n ? z->n - 1 : r;
}

/* A bijection of [0, n): rank * p mod n, p a prime that divides no n here. */
static uint64_t scatter(uint64_t rank, uint64_t n)
{
	return (uint64_t)((unsigned __int128)rank * 2654435761ULL % n);
}


/* Fill @seq with SEQ_LEN key indexes in [0, n). */
static void draw_sequence(uint32_t *seq, uint64_t n, bool zipf, double theta,
			  uint64_t seed)
{
	struct zipf z;
	uint64_t i;

	if (zipf)
		zipf_init(&z, n, theta);
	for (i = 0; i < SEQ_LEN; i++)
		seq[i] = (uint32_t)(zipf ? scatter(zipf_rank(&z, kvt_unit(&seed)), n)
				  : kvt_splitmix(&seed) % n);
}

static char *keys;			/* o.keys * KLEN bytes */

static void make_keys(void)
{
	char k[32];
	uint64_t i;

	keys = malloc(o.keys * KLEN + 1);
	for (i = 0; i < o.keys; i++) {
		snprintf(k, sizeof(k), "key:%010" PRIu64, i);
		memcpy(keys + i * KLEN, k, KLEN);
	}
}

static const char *key_of(uint64_t i)
{
	return keys + i * KLEN;
}

/* The value of key @i: a letter, its length o.vsize. */
static void make_value(char *v, uint64_t i)
{
	memset(v, 'a' + (int)(i % 26), o.vsize);
}

/* ---- backends ---- */

struct backend {
	const char *name;
	/* per process (after fork): *h is the backend's handle */
	int (*open)(void **h);
	void (*close)(void *h);
	/* 1 hit, 0 miss, < 0 error; the value is copied to @buf */
	int (*get)(void *h, const char *k, char *buf, size_t cap);
	int (*set)(void *h, const char *k, const char *v);	/* 0 or < 0 */
	/* @n keys at once: number of hits or < 0 */
	int (*mget)(void *h, const char *const *k, int n, char *buf, size_t cap);
	/* pipelined: @n GETs (hits or < 0), @n SETs (0 or < 0) */
	int (*pget)(void *h, const char *const *k, int n, char *buf, size_t cap);
	int (*pset)(void *h, const char *const *k, int n, const char *v);
	/* bulk-load keys [from, from + n) */
	int (*load)(void *h, uint64_t from, uint64_t n);
	/* the store's own accounting of its memory, bytes (< 0: unknown) */
	int64_t (*mem)(void *h);
};

/* null: the harness alone */
static int null_open(void **h) { *h = NULL; return 0; }
static void null_close(void *h) { }
static int null_get(void *h, const char *k, char *buf, size_t cap)
{
	__asm__ volatile("" : : "r"(k), "r"(buf) : "memory");
	return 1;
}
static int null_set(void *h, const char *k, const char *v)
{
	__asm__ volatile("" : : "r"(k), "r"(v) : "memory");
	return 0;
}
static int null_mget(void *h, const char *const *k, int n, char *buf, size_t cap)
{
	__asm__ volatile("" : : "r"(k), "r"(buf) : "memory");
	return n;
}
static int null_pset(void *h, const char *const *k, int n, const char *v)
{
	__asm__ volatile("" : : "r"(k), "r"(v) : "memory");
	return 0;
}
static int null_load(void *h, uint64_t from, uint64_t n) { return 0; }
static int64_t null_mem(void *h) { return -1; }

/* kvshm */
static int kv_open(void **h)
{
	return kvshm_open((kvshm_t **)h, o.name, NULL) ? -1 : 0;
}

static void kv_close(void *h)
{
	kvshm_close(h);
}

static int kv_get(void *h, const char *k, char *buf, size_t cap)
{
	size_t vlen;
	int rc = kvshm_get(h, k, KLEN, buf, cap, &vlen);

	if (rc == 0)
		return vlen == o.vsize ? 1 : -1;
	return rc == KVSHM_ENOTFOUND ? 0 : -1;
}

static int kv_set(void *h, const char *k, const char *v)
{
	return kvshm_set(h, k, KLEN, v, o.vsize, 0, 0) ? -1 : 0;
}

static int kv_mget(void *h, const char *const *k, int n, char *buf, size_t cap)
{
	struct kvshm_getv v[MAX_DEPTH];
	int i, hits = 0;

	for (i = 0; i < n; i++) {
		v[i].key = k[i];
		v[i].klen = KLEN;
		v[i].buf = buf + (size_t)i * o.vsize;
		v[i].cap = o.vsize;
	}
	if (kvshm_mget(h, v, (size_t)n))
		return -1;
	for (i = 0; i < n; i++)
		if (v[i].rc == 0)
			hits++;
		else if (v[i].rc != KVSHM_ENOTFOUND)
			return -1;
	return hits;
}

/* The batched write: kvshm_mset() of @n pairs (one request, all or none). */
static int kv_pset(void *h, const char *const *k, int n, const char *v)
{
	struct kvshm_kv kv[MAX_DEPTH];
	int i;

	for (i = 0; i < n; i++) {
		kv[i] = (struct kvshm_kv){ .key = k[i], .klen = KLEN,
					   .val = v, .vlen = o.vsize };
	}
	return kvshm_mset(h, kv, (size_t)n) ? -1 : 0;
}

static int kv_load(void *h, uint64_t from, uint64_t n)
{
	enum { BATCH = 2000 };
	struct kvshm_kv kv[BATCH];
	char *vals = malloc((size_t)BATCH * o.vsize);
	uint64_t i, m;
	int rc = 0;

	for (i = from; i < from + n && rc == 0; i += m) {
		uint64_t j;

		m = from + n - i < BATCH ? from + n - i : BATCH;
		for (j = 0; j < m; j++) {
			make_value(vals + j * o.vsize, i + j);
			kv[j] = (struct kvshm_kv){ .key = key_of(i + j),
				.klen = KLEN, .val = vals + j * o.vsize,
				.vlen = o.vsize };
		}
		rc = kvshm_mset(h, kv, (size_t)m);
	}
	free(vals);
	return rc ? -1 : 0;
}

static int64_t kv_mem(void *h)
{
	char *text, *p;
	int64_t v = -1;

	if (kvshm_stats(h, &text))
		return -1;
	p = strstr(text, "\nmemory_used ");
	if (p)
		v = atoll(p + strlen("\nmemory_used "));
	free(text);
	return v;
}

#ifdef HAVE_HIREDIS
static int rd_open(void **h)
{
	redisContext *c = redisConnectUnix(o.socket);

	if (!c || c->err) {
		fprintf(stderr, "kvshm-compare: redis %s: %s\n", o.socket,
			c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		return -1;
	}
	*h = c;
	return 0;
}

static void rd_close(void *h)
{
	redisFree(h);
}

/* 1 hit (copied to @buf), 0 nil, -1 anything else. */
static int rd_value(redisReply *r, char *buf, size_t cap)
{
	if (r->type == REDIS_REPLY_NIL)
		return 0;
	if (r->type != REDIS_REPLY_STRING || r->len != o.vsize)
		return -1;
	memcpy(buf, r->str, (size_t)r->len < cap ? (size_t)r->len : cap);
	return 1;
}

static int rd_get(void *h, const char *k, char *buf, size_t cap)
{
	const char *argv[2] = { "GET", k };
	size_t len[2] = { 3, KLEN };
	redisReply *r = redisCommandArgv(h, 2, argv, len);
	int rc;

	if (!r)
		return -1;
	rc = rd_value(r, buf, cap);
	freeReplyObject(r);
	return rc;
}

static int rd_set(void *h, const char *k, const char *v)
{
	const char *argv[3] = { "SET", k, v };
	size_t len[3] = { 3, KLEN, o.vsize };
	redisReply *r = redisCommandArgv(h, 3, argv, len);
	int rc;

	if (!r)
		return -1;
	rc = r->type == REDIS_REPLY_STATUS ? 0 : -1;
	freeReplyObject(r);
	return rc;
}

static int rd_mget(void *h, const char *const *k, int n, char *buf, size_t cap)
{
	const char *argv[MAX_DEPTH + 1];
	size_t len[MAX_DEPTH + 1], i;
	redisReply *r;
	int hits = 0;

	argv[0] = "MGET";
	len[0] = 4;
	for (i = 0; i < (size_t)n; i++) {
		argv[i + 1] = k[i];
		len[i + 1] = KLEN;
	}
	r = redisCommandArgv(h, n + 1, argv, len);
	if (!r)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)n) {
		hits = -1;
	} else {
		for (i = 0; i < (size_t)n && hits >= 0; i++) {
			int v = rd_value(r->element[i], buf + i * o.vsize,
					 o.vsize);

			hits = v < 0 ? -1 : hits + v;
		}
	}
	freeReplyObject(r);
	return hits;
}

/* @n commands appended, then @n replies read: one round trip. */
static int rd_pipe(void *h, const char *const *k, int n, const char *v,
		   char *buf)
{
	const char *argv[3] = { v ? "SET" : "GET", NULL, v };
	size_t len[3] = { 3, KLEN, o.vsize };
	int i, hits = 0, bad = 0;

	for (i = 0; i < n; i++) {
		argv[1] = k[i];
		if (redisAppendCommandArgv(h, v ? 3 : 2, argv, len) != REDIS_OK)
			return -1;
	}
	for (i = 0; i < n; i++) {
		redisReply *r;

		if (redisGetReply(h, (void **)&r) != REDIS_OK || !r)
			return -1;
		if (v) {
			bad |= r->type != REDIS_REPLY_STATUS;
		} else {
			int x = rd_value(r, buf, o.vsize);

			bad |= x < 0;
			hits += x > 0;
		}
		freeReplyObject(r);
	}
	return bad ? -1 : hits;
}

static int rd_pget(void *h, const char *const *k, int n, char *buf, size_t cap)
{
	return rd_pipe(h, k, n, NULL, buf);
}

static int rd_pset(void *h, const char *const *k, int n, const char *v)
{
	return rd_pipe(h, k, n, v, NULL) < 0 ? -1 : 0;
}

static int rd_load(void *h, uint64_t from, uint64_t n)
{
	enum { BATCH = 1000 };
	char *v = malloc(o.vsize);
	uint64_t i;
	int rc = 0;

	for (i = from; i < from + n && rc == 0; i += BATCH) {
		const char *k[BATCH];
		uint64_t j, m = from + n - i < BATCH ? from + n - i : BATCH;

		for (j = 0; j < m; j++)
			k[j] = key_of(i + j);
		/* one value per batch: the loaded bytes differ from
		 * make_value() per key only in the letter */
		make_value(v, i);
		rc = rd_pset(h, k, (int)m, v);
	}
	free(v);
	return rc;
}

static int64_t rd_mem(void *h)
{
	redisReply *r = redisCommand(h, "INFO memory");
	int64_t v = -1;
	char *p;

	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_STRING &&
	    (p = strstr(r->str, "used_memory:")))
		v = atoll(p + strlen("used_memory:"));
	freeReplyObject(r);
	return v;
}
#endif /* HAVE_HIREDIS */

#ifdef HAVE_LIBMEMCACHED
struct mc {
	memcached_st *m;
	memcached_result_st res;
};

static int mc_open(void **h)
{
	struct mc *c = calloc(1, sizeof(*c));

	if (!c || !(c->m = memcached_create(NULL)))
		goto err;
	if (memcached_server_add_unix_socket(c->m, o.socket) !=
	    MEMCACHED_SUCCESS)
		goto err;
	if (!memcached_result_create(c->m, &c->res))
		goto err;
	*h = c;
	return 0;
err:
	if (c && c->m)
		memcached_free(c->m);
	free(c);
	return -1;
}

static void mc_close(void *h)
{
	struct mc *c = h;

	memcached_result_free(&c->res);
	memcached_free(c->m);
	free(c);
}

static int mc_get(void *h, const char *k, char *buf, size_t cap)
{
	struct mc *c = h;
	memcached_return_t rc;
	uint32_t flags;
	size_t vlen;
	char *v = memcached_get(c->m, k, KLEN, &vlen, &flags, &rc);

	if (rc == MEMCACHED_NOTFOUND)
		return 0;
	if (rc != MEMCACHED_SUCCESS || !v || vlen != o.vsize) {
		free(v);
		return -1;
	}
	memcpy(buf, v, vlen < cap ? vlen : cap);
	free(v);
	return 1;
}

static int mc_set(void *h, const char *k, const char *v)
{
	struct mc *c = h;

	return memcached_set(c->m, k, KLEN, v, o.vsize, 0, 0) ==
	       MEMCACHED_SUCCESS ? 0 : -1;
}

/* A multi-key get ("get k1 ... kn", one request): the number of hits. */
static int mc_mget(void *h, const char *const *k, int n, char *buf, size_t cap)
{
	struct mc *c = h;
	size_t len[MAX_DEPTH];
	memcached_return_t rc;
	int i, hits = 0, bad = 0;

	for (i = 0; i < n; i++)
		len[i] = KLEN;
	if (memcached_mget(c->m, k, len, (size_t)n) != MEMCACHED_SUCCESS)
		return -1;
	while (memcached_fetch_result(c->m, &c->res, &rc)) {
		size_t vlen = memcached_result_length(&c->res);

		if (vlen != o.vsize || hits >= n) {
			bad = 1;
			continue;
		}
		memcpy(buf + (size_t)hits * o.vsize,
		       memcached_result_value(&c->res), vlen);
		hits++;
	}
	if (rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND &&
	    rc != MEMCACHED_SUCCESS)
		bad = 1;
	return bad ? -1 : hits;
}

/*
 * Pipelined SETs: libmemcached has no acknowledged pipelined set, so the
 * first @n - 1 go out as "noreply" and the last one waits for its reply;
 * memcached runs one connection's commands in order, so that reply comes
 * after the others were stored.
 */
static int mc_pset(void *h, const char *const *k, int n, const char *v)
{
	struct mc *c = h;
	int i, bad = 0;

	memcached_behavior_set(c->m, MEMCACHED_BEHAVIOR_NOREPLY, 1);
	for (i = 0; i < n - 1; i++)
		bad |= memcached_set(c->m, k[i], KLEN, v, o.vsize, 0, 0) !=
		       MEMCACHED_SUCCESS;
	memcached_behavior_set(c->m, MEMCACHED_BEHAVIOR_NOREPLY, 0);
	bad |= memcached_set(c->m, k[n - 1], KLEN, v, o.vsize, 0, 0) !=
	       MEMCACHED_SUCCESS;
	return bad ? -1 : 0;
}

static int mc_load(void *h, uint64_t from, uint64_t n)
{
	enum { BATCH = 1000 };
	char *v = malloc(o.vsize);
	uint64_t i;
	int rc = 0;

	for (i = from; i < from + n && rc == 0; i += BATCH) {
		const char *k[BATCH];
		uint64_t j, m = from + n - i < BATCH ? from + n - i : BATCH;

		for (j = 0; j < m; j++)
			k[j] = key_of(i + j);
		make_value(v, i);
		rc = mc_pset(h, k, (int)m, v);
	}
	free(v);
	return rc;
}

static int64_t mc_mem(void *h)
{
	struct mc *c = h;
	memcached_return_t rc;
	memcached_stat_st *st = memcached_stat(c->m, NULL, &rc);
	int64_t v = -1;

	if (st && rc == MEMCACHED_SUCCESS)
		v = (int64_t)st->bytes;
	memcached_stat_free(c->m, st);
	return v;
}
#endif /* HAVE_LIBMEMCACHED */

#ifdef HAVE_LMDB
struct ldb {
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *rtxn;			/* reset between reads, renewed */
};

static int ldb_open(void **h)
{
	struct ldb *l = calloc(1, sizeof(*l));
	size_t map = (size_t)o.keys * (o.vsize + KLEN + 64) * 4 + (1UL << 30);
	MDB_txn *t;

	if (!l || mdb_env_create(&l->env))
		goto err;
	if (mdb_env_set_mapsize(l->env, map) ||
	    mdb_env_set_maxreaders(l->env, 256) ||
	    mdb_env_open(l->env, o.lmdb_dir,
			 MDB_NOSYNC | MDB_NOMETASYNC | MDB_NORDAHEAD, 0644))
		goto err_env;
	if (mdb_txn_begin(l->env, NULL, 0, &t))
		goto err_env;
	if (mdb_dbi_open(t, NULL, 0, &l->dbi) || mdb_txn_commit(t))
		goto err_env;
	if (mdb_txn_begin(l->env, NULL, MDB_RDONLY, &l->rtxn))
		goto err_env;
	mdb_txn_reset(l->rtxn);
	*h = l;
	return 0;
err_env:
	mdb_env_close(l->env);
err:
	free(l);
	return -1;
}

static void ldb_close(void *h)
{
	struct ldb *l = h;

	mdb_txn_abort(l->rtxn);
	mdb_env_close(l->env);
	free(l);
}

static int ldb_get1(struct ldb *l, const char *k, char *buf, size_t cap)
{
	MDB_val key = { KLEN, (void *)k }, val;
	int rc = mdb_get(l->rtxn, l->dbi, &key, &val);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc || val.mv_size != o.vsize)
		return -1;
	memcpy(buf, val.mv_data, val.mv_size < cap ? val.mv_size : cap);
	return 1;
}

static int ldb_get(void *h, const char *k, char *buf, size_t cap)
{
	struct ldb *l = h;
	int rc;

	if (mdb_txn_renew(l->rtxn))
		return -1;
	rc = ldb_get1(l, k, buf, cap);
	mdb_txn_reset(l->rtxn);
	return rc;
}

static int ldb_mget(void *h, const char *const *k, int n, char *buf, size_t cap)
{
	struct ldb *l = h;
	int i, hits = 0;

	if (mdb_txn_renew(l->rtxn))
		return -1;
	for (i = 0; i < n && hits >= 0; i++) {
		int rc = ldb_get1(l, k[i], buf + (size_t)i * o.vsize, o.vsize);

		hits = rc < 0 ? -1 : hits + rc;
	}
	mdb_txn_reset(l->rtxn);
	return hits;
}

/* @n puts in one write transaction (a SET is n = 1). */
static int ldb_pset(void *h, const char *const *k, int n, const char *v)
{
	struct ldb *l = h;
	MDB_txn *t;
	int i;

	if (mdb_txn_begin(l->env, NULL, 0, &t))
		return -1;
	for (i = 0; i < n; i++) {
		MDB_val key = { KLEN, (void *)k[i] }, val = { o.vsize, (void *)v };

		if (mdb_put(t, l->dbi, &key, &val, 0)) {
			mdb_txn_abort(t);
			return -1;
		}
	}
	return mdb_txn_commit(t) ? -1 : 0;
}

static int ldb_set(void *h, const char *k, const char *v)
{
	return ldb_pset(h, &k, 1, v);
}

static int ldb_load(void *h, uint64_t from, uint64_t n)
{
	struct ldb *l = h;
	char *v = malloc(o.vsize);
	uint64_t i;
	MDB_txn *t = NULL;
	int rc = 0;

	for (i = from; i < from + n && rc == 0; i++) {
		MDB_val key = { KLEN, (void *)key_of(i) }, val = { o.vsize, v };

		if (!t && mdb_txn_begin(l->env, NULL, 0, &t)) {
			rc = -1;
			break;
		}
		make_value(v, i);
		rc = mdb_put(t, l->dbi, &key, &val, 0) ? -1 : 0;
		if (rc == 0 && (i - from) % 100000 == 99999) {
			rc = mdb_txn_commit(t) ? -1 : 0;
			t = NULL;
		}
	}
	if (t && (rc || mdb_txn_commit(t)))
		rc = -1;
	free(v);
	return rc;
}

/* Pages in use (up to the last page ever written), in bytes. */
static int64_t ldb_mem(void *h)
{
	struct ldb *l = h;
	MDB_envinfo info;
	MDB_stat st;

	if (mdb_env_info(l->env, &info) || mdb_env_stat(l->env, &st))
		return -1;
	return (int64_t)(info.me_last_pgno + 1) * st.ms_psize;
}
#endif /* HAVE_LMDB */

static const struct backend backends[] = {
	{ "null", null_open, null_close, null_get, null_set, null_mget,
	  null_mget, null_pset, null_load, null_mem },
	{ "kvshm", kv_open, kv_close, kv_get, kv_set, kv_mget, NULL,
	  kv_pset, kv_load, kv_mem },
#ifdef HAVE_HIREDIS
	{ "redis", rd_open, rd_close, rd_get, rd_set, rd_mget, rd_pget,
	  rd_pset, rd_load, rd_mem },
#endif
#ifdef HAVE_LIBMEMCACHED
	{ "memcached", mc_open, mc_close, mc_get, mc_set, mc_mget, mc_mget,
	  mc_pset, mc_load, mc_mem },
#endif
#ifdef HAVE_LMDB
	{ "lmdb", ldb_open, ldb_close, ldb_get, ldb_set, ldb_mget, NULL,
	  NULL, ldb_load, ldb_mem },
#endif
};

static const struct backend *be;

/* ---- workloads ---- */

enum wl { GET_HIT, GET_MISS, SET, MIX90, MIX50, MGET10, NWL };

static const char *const wl_name[NWL] = {
	"get-hit", "get-miss", "set", "mix90", "mix50", "mget10",
};

/* Percent of ops that are SETs. */
static const int wl_writes[NWL] = { 0, 0, 100, 10, 50, 0 };

/* What one process measured; in shared memory, summed by the parent. */
struct result {
	uint64_t ops, hits, misses, errors;
	uint64_t ops_all;		/* pool_run(): every pass's ops, which
					 * the server's CPU time covers */
	uint64_t t0, t1;		/* ns, CLOCK_MONOTONIC */
	uint64_t hist[KVT_HBUCKETS];
};

static uint32_t *seqs[2];		/* per distribution */

/* Whether op @pos of a mix is a write: a hash of the position. */
static bool is_write(enum wl w, uint64_t pos)
{
	uint64_t s = pos * 0x2545f4914f6cdd1dULL;

	return wl_writes[w] && kvt_splitmix(&s) % 100 < (uint64_t)wl_writes[w];
}

/*
 * run_ops - @ops operations of workload @w on handle @h, keys from @seq
 * starting at @pos. If @timed, each op (or pipelined batch) is timed into
 * @r's histogram; otherwise only the whole run is (throughput).
 *
 * Two passes, because a clock read is not free for a store that answers
 * from memory: the vDSO's rdtsc is ordered (an lfence on this CPU), which
 * waits for every earlier load, so timing each op stops the CPU from
 * overlapping one GET's cache misses with the next's, and what comes out
 * is latency, not throughput (for kvshm, 1.9x fewer GETs per second with
 * 1M keys). A round trip to a server is unaffected either way.
 */
static void run_ops(void *h, enum wl w, const uint32_t *seq, uint64_t pos,
		    uint64_t ops, struct result *r, bool timed)
{
	size_t cap = (size_t)o.vsize * MAX_DEPTH;
	char *buf = malloc(cap), *val = malloc(o.vsize);
	char (*miss)[KLEN] = malloc((size_t)MAX_DEPTH * KLEN);
	const char *k[MAX_DEPTH];
	uint64_t done = 0, t, tprev;
	int depth = w == MGET10 ? MGET_N : o.depth, i, rc;

	make_value(val, 7);
	r->t0 = tprev = now_ns();
	while (done < ops) {
		int n = depth;

		if (ops - done < (uint64_t)n && w != MGET10)
			n = (int)(ops - done);
		for (i = 0; i < n; i++) {
			uint32_t idx = seq[(pos + (uint64_t)i) & (SEQ_LEN - 1)];

			k[i] = key_of(idx);
			if (w == GET_MISS) {
				memcpy(miss[i], k[i], KLEN);
				miss[i][0] = 'm';
				k[i] = miss[i];
			}
		}
		if (w == MGET10) {
			rc = be->mget(h, k, n, buf, cap);
			if (rc >= 0) {
				r->hits += (uint64_t)rc;
				r->misses += (uint64_t)(n - rc);
			}
			n = 1;			/* one op */
		} else if (n > 1 && (w == SET)) {
			rc = be->pset(h, k, n, val);
		} else if (n > 1) {
			rc = be->pget(h, k, n, buf, cap);
			if (rc >= 0) {
				r->hits += (uint64_t)rc;
				r->misses += (uint64_t)(n - rc);
			}
		} else if (is_write(w, pos)) {
			rc = be->set(h, k[0], val);
		} else {
			rc = be->get(h, k[0], buf, cap);
			if (rc >= 0) {
				r->hits += (uint64_t)rc;
				r->misses += (uint64_t)(rc == 0);
			}
		}
		if (rc < 0)
			r->errors++;
		if (timed) {
			t = now_ns();
			r->hist[kvt_hist_bucket(t - tprev)]++;
			tprev = t;
		}
		pos += (uint64_t)(w == MGET10 ? MGET_N : n);
		done += (uint64_t)n;
	}
	r->t1 = timed ? tprev : now_ns();
	r->ops = done;
	free(buf);
	free(val);
	free(miss);
}

/* Expected outcome: GET hits hit, GET misses miss. */
static uint64_t wrong(enum wl w, const struct result *r)
{
	return w == GET_MISS ? r->hits : r->misses;
}

/* ---- processes: fork, barrier, aggregate ---- */

static int64_t proc_rss(int pid)
{
	char path[64], line[256];
	int64_t kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %" SCNd64, &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

/* user + system CPU time of @pid (all threads), ns; -1 if unknown. */
static int64_t proc_cpu_ns(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%llu %llu", &ut, &st) != 2)
		return -1;
	return (int64_t)((ut + st) * (1000000000ULL /
				      (unsigned long long)sysconf(_SC_CLK_TCK)));
}

/*
 * Client processes are long-lived, as a pre-forked server's workers are:
 * a pool of np is forked once per process count, each opens its handle and
 * warms up, then runs workload after workload on command. kvshm and LMDB
 * map the data into the client, where a fresh process's first touch of
 * each page is a page fault, not a read, so their warm-up reads every key
 * once; every backend then runs 1,000 ops.
 */
struct ctl {
	int w, dist;			/* the next workload */
	int round;			/* its throughput round, 0 .. rounds-1 */
	struct result res[MAX_PROCS];
};

struct pool {
	int np;
	pid_t pid[MAX_PROCS];
	int cmd[MAX_PROCS];		/* parent -> worker: 1 byte = go */
	int done;			/* workers -> parent: 1 byte each */
	struct ctl *ctl;
};

static bool in_process(void)
{
	return !strcmp(be->name, "kvshm") || !strcmp(be->name, "lmdb");
}

static void warm(void *h)
{
	static struct result r;
	char *buf = malloc(o.vsize);
	int depth = o.depth;
	uint64_t i;

	if (in_process())
		for (i = 0; i < o.keys; i++)
			be->get(h, key_of(i), buf, o.vsize);
	o.depth = 1;
	run_ops(h, GET_HIT, seqs[seqs[0] ? 0 : 1], SEQ_LEN / 3, 1000, &r, true);
	o.depth = depth;
	free(buf);
}

/* Ops per process in the timed (latency) pass: a quarter of --ops, but
 * at least 20,000 (or --ops if fewer), enough for a p99.9. */
static uint64_t lat_ops(void)
{
	uint64_t n = o.ops / 4;

	if (n < 20000)
		n = o.ops < 20000 ? o.ops : 20000;
	return n;
}

static void worker(struct pool *p, int i, int cmd, int done)
{
	struct ctl *c = p->ctl;
	void *h;
	char b;

	if (be->open(&h)) {
		(void)!write(done, "n", 1);
		_exit(2);
	}
	warm(h);
	if (write(done, "y", 1) != 1)
		_exit(2);
	while (read(cmd, &b, 1) == 1) {
		uint64_t pos = (uint64_t)i * (SEQ_LEN / (unsigned int)p->np);

		/* 'g': throughput round c->round, each on keys of its
		 * own; 't': the latency pass, on the keys that follow
		 * those of the last round (see run_ops). */
		memset(&c->res[i], 0, sizeof(c->res[i]));
		if (b == 't')
			run_ops(h, (enum wl)c->w, seqs[c->dist],
				pos + (uint64_t)o.rounds * o.ops, lat_ops(),
				&c->res[i], true);
		else
			run_ops(h, (enum wl)c->w, seqs[c->dist],
				pos + (uint64_t)c->round * o.ops, o.ops,
				&c->res[i], false);
		if (write(done, "y", 1) != 1)
			_exit(2);
	}
	be->close(h);
	_exit(0);
}

static int wait_all(struct pool *p)
{
	int i, bad = 0;
	char b;

	for (i = 0; i < p->np; i++)
		if (read(p->done, &b, 1) != 1 || b != 'y')
			bad = 1;
	return bad ? -1 : 0;
}

static int pool_start(struct pool *p, int np)
{
	int done[2], i, k;

	memset(p, 0, sizeof(*p));
	p->np = np;
	p->ctl = mmap(NULL, sizeof(*p->ctl), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->ctl == MAP_FAILED || pipe(done))
		return -1;
	p->done = done[0];
	fflush(stdout);
	for (i = 0; i < np; i++) {
		int cmd[2];

		if (pipe(cmd))
			return -1;
		p->pid[i] = fork();
		if (p->pid[i] == 0) {
			close(done[0]);
			close(cmd[1]);
			for (k = 0; k < i; k++)
				close(p->cmd[k]);
			worker(p, i, cmd[0], done[1]);
		}
		close(cmd[0]);
		p->cmd[i] = cmd[1];
	}
	close(done[1]);
	return wait_all(p);
}

static int pool_stop(struct pool *p)
{
	int i, st, bad = 0;

	for (i = 0; i < p->np; i++)
		close(p->cmd[i]);	/* EOF: the worker exits */
	for (i = 0; i < p->np; i++) {
		if (p->pid[i] <= 0)
			continue;
		waitpid(p->pid[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad = 1;
	}
	close(p->done);
	munmap(p->ctl, sizeof(*p->ctl));
	return bad ? -1 : 0;
}

/*
 * pool_run - workload @w in every worker at once (each released by one
 * byte, in a row); the sum of their results in @sum.
 */
/* One round of every worker: command @cmd ('g' throughput, 't' latency). */
static int pool_round(struct pool *p, char cmd)
{
	int i;

	for (i = 0; i < p->np; i++)
		if (write(p->cmd[i], &cmd, 1) != 1)
			return -1;
	return wait_all(p);
}

/* One throughput round of every worker: ops, first start, last end. */
struct round {
	uint64_t ops, t0, t1;
};

/*
 * median_round - the round of median rate among @n (the upper one of
 * the middle two if @n is even); sorts @rd by rate. Rates are compared
 * crosswise (ops x time), so a round of zero time sorts as the fastest.
 */
static struct round median_round(struct round *rd, int n)
{
	struct round tmp;
	int i, j;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 &&
			    (double)rd[j].ops * (double)(rd[j - 1].t1 - rd[j - 1].t0) <
			    (double)rd[j - 1].ops * (double)(rd[j].t1 - rd[j].t0);
		     j--) {
			tmp = rd[j];
			rd[j] = rd[j - 1];
			rd[j - 1] = tmp;
		}
	return rd[n / 2];
}

/*
 * pool_run - workload @w on every worker at once: the throughput pass
 * (untimed ops) o.rounds times, then the latency pass (each op timed);
 * @sum gets the ops and times of the median throughput round, the
 * latency pass's histogram, and every pass's hits, misses and errors.
 *
 * One round of --ops is short for an in-process store (100,000 GETs take
 * tens of milliseconds), so a moment of the host's noise can halve it;
 * the median of a few rounds, taken the same way for every system, is
 * what the tables report.
 */
static int pool_run(struct pool *p, enum wl w, int dist, struct result *sum)
{
	struct round rd[MAX_ROUNDS];
	int i, pass, rc = 0;
	unsigned int b;

	p->ctl->w = w;
	p->ctl->dist = dist;
	memset(sum, 0, sizeof(*sum));
	for (pass = 0; pass <= o.rounds; pass++) {
		bool lat = pass == o.rounds;

		p->ctl->round = pass;
		if (pool_round(p, lat ? 't' : 'g'))
			rc = -1;
		if (!lat) {
			rd[pass].ops = rd[pass].t1 = 0;
			rd[pass].t0 = UINT64_MAX;
		}
		for (i = 0; i < p->np; i++) {
			const struct result *r = &p->ctl->res[i];

			sum->hits += r->hits;
			sum->misses += r->misses;
			sum->errors += r->errors + wrong(w, r);
			sum->ops_all += r->ops;
			if (lat) {
				for (b = 0; b < KVT_HBUCKETS; b++)
					sum->hist[b] += r->hist[b];
				continue;
			}
			rd[pass].ops += r->ops;
			if (r->t0 < rd[pass].t0)
				rd[pass].t0 = r->t0;
			if (r->t1 > rd[pass].t1)
				rd[pass].t1 = r->t1;
		}
	}
	rd[0] = median_round(rd, o.rounds);
	sum->ops = rd[0].ops;
	sum->t0 = rd[0].t0;
	sum->t1 = rd[0].t1;
	return rc;
}

/* ---- output ---- */

static FILE *csv;

static const char *system_name(void)
{
	static char s[64];

	if (o.depth > 1)
		snprintf(s, sizeof(s), "%s-%s%d", be->name,
			 strcmp(be->name, "kvshm") ? "pipe" : "mset", o.depth);
	else
		snprintf(s, sizeof(s), "%s", be->name);
	return s;
}

static void csv_header(FILE *f)
{
	fprintf(f, "kind,label,system,keys,value_size,dist,workload,procs,"
		"depth,ops,secs,ops_per_s,p50_ns,p99_ns,p999_ns,errors,"
		"server_cpu_ns_per_op,rss_bytes_per_item,store_bytes_per_item,"
		"client_instr_per_op,server_instr_per_op\n");
}

static void csv_open(void)
{
	struct stat sb;
	bool fresh;

	if (!o.csv)
		return;
	fresh = stat(o.csv, &sb) != 0 || sb.st_size == 0;
	csv = fopen(o.csv, "a");
	if (!csv) {
		fprintf(stderr, "kvshm-compare: %s: %s\n", o.csv,
			strerror(errno));
		exit(1);
	}
	if (fresh)
		csv_header(csv);
}

static const char *dist_name(int dist)
{
	static char z[32];

	if (dist == 0)
		return "uniform";
	snprintf(z, sizeof(z), "zipf%.2f", o.theta);
	return z;
}

static void write_hist(const struct result *r, enum wl w, int dist, int np)
{
	uint64_t total = 0, acc = 0;
	unsigned int b;
	char path[512];
	FILE *f;

	if (!o.hist_dir)
		return;
	snprintf(path, sizeof(path), "%s/%s%s%s-%s-%s-p%d.dat", o.hist_dir,
		 o.label, *o.label ? "-" : "", system_name(), wl_name[w],
		 dist_name(dist), np);
	f = fopen(path, "w");
	if (!f)
		return;
	for (b = 0; b < KVT_HBUCKETS; b++)
		total += r->hist[b];
	fprintf(f, "# latency_ns cumulative_fraction (%s %s %s, %d procs)\n",
		system_name(), wl_name[w], dist_name(dist), np);
	for (b = 0; b < KVT_HBUCKETS && total; b++) {
		if (!r->hist[b])
			continue;
		acc += r->hist[b];
		fprintf(f, "%" PRIu64 " %.6f\n", kvt_hist_floor(b + 1),
			(double)acc / (double)total);
	}
	fclose(f);
}

static void report(enum wl w, int dist, int np, const struct result *r,
		   int64_t cpu_ns)
{
	double secs = (double)(r->t1 - r->t0) / 1e9;
	double rate = secs > 0 ? (double)r->ops / secs : 0;
	uint64_t p50 = kvt_hist_percentile(r->hist, 0.5),
		 p99 = kvt_hist_percentile(r->hist, 0.99),
		 p999 = kvt_hist_percentile(r->hist, 0.999);
	char cpu[32] = "";

	if (cpu_ns >= 0)
		snprintf(cpu, sizeof(cpu), "%.0f", (double)cpu_ns /
			 (double)(r->ops_all ? r->ops_all : r->ops));
	printf("%-18s %-8s %-8s P=%d  %10.0f ops/s  p50 %7" PRIu64
	       "  p99 %8" PRIu64 "  p99.9 %8" PRIu64 " ns  errors %" PRIu64
	       "%s%s\n", system_name(), wl_name[w], dist_name(dist), np, rate,
	       p50, p99, p999, r->errors,
	       *cpu ? "  server cpu ns/op " : "", cpu);
	fflush(stdout);
	if (csv)
		fprintf(csv, "run,%s,%s,%" PRIu64 ",%u,%s,%s,%d,%d,%" PRIu64
			",%.3f,%.0f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%"
			PRIu64 ",%s,,,,\n", o.label, system_name(), o.keys,
			o.vsize, dist_name(dist), wl_name[w], np,
			w == MGET10 ? MGET_N : o.depth, r->ops, secs, rate,
			p50, p99, p999, r->errors, cpu);
	write_hist(r, w, dist, np);
}

/* ---- the measurements ---- */

static int parse_list(const char *s, const char *const *names, int nnames,
		      bool *on)
{
	char *copy = strdup(s), *tok, *save = NULL;
	int i, rc = 0;

	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < nnames; i++)
			if (strcmp(tok, names[i]) == 0)
				break;
		if (i == nnames) {
			fprintf(stderr, "kvshm-compare: unknown '%s'\n", tok);
			rc = -1;
		} else {
			on[i] = true;
		}
	}
	free(copy);
	return rc;
}

/* Workloads that the chosen backend and depth can run. */
static bool supported(enum wl w)
{
	if (o.depth == 1)
		return true;
	if (w == GET_HIT || w == GET_MISS)
		return be->pget != NULL;
	if (w == SET)
		return be->pset != NULL;
	return false;
}

/* Load the keys and report what they cost in memory. */
static int load_all(void)
{
	int64_t rss0 = -1, rss1 = -1, m0, m1;
	uint64_t t0;
	void *h;
	int rc;

	if (be->open(&h)) {
		fprintf(stderr, "kvshm-compare: cannot open %s\n", be->name);
		return -1;
	}
	if (o.server_pid > 0)
		rss0 = proc_rss(o.server_pid);
	m0 = be->mem(h);
	t0 = now_ns();
	rc = be->load(h, 0, o.keys);
	t0 = now_ns() - t0;
	if (rc) {
		fprintf(stderr, "kvshm-compare: loading %s failed\n", be->name);
		be->close(h);
		return -1;
	}
	m1 = be->mem(h);
	if (o.server_pid > 0)
		rss1 = proc_rss(o.server_pid);
	be->close(h);
	printf("%-18s load    %" PRIu64 " keys in %.2f s; RSS %s%.1f B/item;"
	       " own accounting %.1f B/item\n", be->name, o.keys,
	       (double)t0 / 1e9, rss0 < 0 ? "n/a " : "",
	       rss0 < 0 ? 0.0 : (double)(rss1 - rss0) / (double)o.keys,
	       m0 < 0 ? 0.0 : (double)(m1 - m0) / (double)o.keys);
	if (csv) {
		fprintf(csv, "mem,%s,%s,%" PRIu64 ",%u,,load,1,,%" PRIu64
			",%.3f,%.0f,,,,0,,", o.label, be->name, o.keys, o.vsize,
			o.keys, (double)t0 / 1e9,
			(double)o.keys / ((double)t0 / 1e9));
		if (rss0 >= 0)
			fprintf(csv, "%.1f", (double)(rss1 - rss0) /
				(double)o.keys);
		fprintf(csv, ",");
		if (m0 >= 0)
			fprintf(csv, "%.1f", (double)(m1 - m0) / (double)o.keys);
		fprintf(csv, ",,\n");
		fflush(csv);
	}
	return 0;
}

/*
 * --icount: one process, here; callgrind collects only inside each op
 * loop and dumps it under the workload's name; a server running under
 * callgrind is zeroed before and dumped after the same loop.
 */
static int ctl_server(const char *what, enum wl w, int dist)
{
	char cmd[256];

	if (!o.server_callgrind || o.server_pid <= 0)
		return 0;
	if (*what == 'd')
		snprintf(cmd, sizeof(cmd), "callgrind_control -d '%s-%s-%s' %d "
			 ">/dev/null", system_name(), wl_name[w],
			 dist_name(dist), o.server_pid);
	else
		snprintf(cmd, sizeof(cmd), "callgrind_control -z %d >/dev/null",
			 o.server_pid);
	return system(cmd) == 0 ? 0 : -1;
}

static int icount(const bool *wl_on, const bool *dist_on)
{
	static struct result r;
	char tag[128];
	void *h;
	int w, d, rc = 0;

	if (!RUNNING_ON_VALGRIND)
		fprintf(stderr, "kvshm-compare: --icount outside valgrind "
			"counts nothing\n");
	if (be->open(&h))
		return -1;
	warm(h);
	for (d = 0; d < 2; d++) {
		for (w = 0; w < NWL; w++) {
			if (!wl_on[w] || !dist_on[d] || !supported(w))
				continue;
			/* warm this path (and the server's) first */
			memset(&r, 0, sizeof(r));
			run_ops(h, (enum wl)w, seqs[d], SEQ_LEN / 2, 1000, &r,
				false);
			memset(&r, 0, sizeof(r));
			if (ctl_server("zero", (enum wl)w, d))
				rc = -1;
			CALLGRIND_TOGGLE_COLLECT;
			run_ops(h, (enum wl)w, seqs[d], 0, o.ops, &r, false);
			CALLGRIND_TOGGLE_COLLECT;
			snprintf(tag, sizeof(tag), "%s-%s-%s", system_name(),
				 wl_name[w], dist_name(d));
			CALLGRIND_DUMP_STATS_AT(tag);
			if (ctl_server("dump", (enum wl)w, d))
				rc = -1;
			printf("icount %s ops %" PRIu64 " errors %" PRIu64 "\n",
			       tag, r.ops, r.errors + wrong((enum wl)w, &r));
			fflush(stdout);
		}
	}
	be->close(h);
	return rc;
}

static int self_test(void);

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
"Usage: kvshm-compare --backend NAME [OPTION]...\n"
"  --backend NAME     one of:");
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		fprintf(f, " %s", backends[i].name);
	fprintf(f, "\n"
"  --name NAME        kvshm cache name (kvshm)\n"
"  --socket PATH      server socket (redis, memcached)\n"
"  --lmdb-dir DIR     environment directory (lmdb)\n"
"  --keys N           keys (default 100000); --value-size B (default 100)\n"
"  --load             load the keys first and report their memory cost\n"
"  --server-pid PID   the server, for RSS and CPU time per op\n"
"  --workloads LIST   of get-hit,get-miss,set,mix90,mix50,mget10 (all)\n"
"  --procs LIST       client process counts (default 1,2)\n"
"  --dists LIST       of uniform,zipf (default both); --theta T (0.99)\n"
"  --ops N            operations per process (default 100000)\n"
"  --rounds K         throughput rounds of --ops per point, the median\n"
"                     reported (default 3, at most 15)\n"
"  --depth D          pipelined (redis, memcached) or batched (kvshm mset)\n"
"                     variant, D ops per round trip: get-hit, get-miss, set\n"
"  --csv FILE         append CSV rows; --label L tags them\n"
"  --hist-dir DIR     write latency distributions (CDF) there\n"
"  --icount           one in-process client for callgrind (see source)\n"
"  --server-callgrind the --server-pid runs under callgrind: dump it too\n"
"  --list-backends    print the compiled-in backends\n"
"  --self-test        check the key generator, Zipf sampler and histogram\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "backend", required_argument, NULL, 'b' },
		{ "name", required_argument, NULL, 'n' },
		{ "socket", required_argument, NULL, 's' },
		{ "lmdb-dir", required_argument, NULL, 'l' },
		{ "keys", required_argument, NULL, 'k' },
		{ "value-size", required_argument, NULL, 'v' },
		{ "load", no_argument, NULL, 'L' },
		{ "server-pid", required_argument, NULL, 'p' },
		{ "workloads", required_argument, NULL, 'w' },
		{ "procs", required_argument, NULL, 'P' },
		{ "dists", required_argument, NULL, 'D' },
		{ "theta", required_argument, NULL, 't' },
		{ "ops", required_argument, NULL, 'o' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "depth", required_argument, NULL, 'd' },
		{ "csv", required_argument, NULL, 'c' },
		{ "label", required_argument, NULL, 'T' },
		{ "hist-dir", required_argument, NULL, 'H' },
		{ "icount", no_argument, NULL, 'I' },
		{ "server-callgrind", no_argument, NULL, 'S' },
		{ "list-backends", no_argument, NULL, 'B' },
		{ "self-test", no_argument, NULL, 'X' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const dnames[2] = { "uniform", "zipf" };
	bool wl_on[NWL] = { false }, dist_on[2] = { false };
	char *procs, *tok, *save = NULL;
	struct result *r;
	size_t i;
	int opt, d, w, rc = 0;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'b': o.backend = optarg; break;
		case 'n': o.name = optarg; break;
		case 's': o.socket = optarg; break;
		case 'l': o.lmdb_dir = optarg; break;
		case 'k': o.keys = strtoull(optarg, NULL, 10); break;
		case 'v': o.vsize = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'L': o.load = true; break;
		case 'p': o.server_pid = atoi(optarg); break;
		case 'w': o.workloads = optarg; break;
		case 'P': o.procs = optarg; break;
		case 'D': o.dists = optarg; break;
		case 't': o.theta = atof(optarg); break;
		case 'o': o.ops = strtoull(optarg, NULL, 10); break;
		case 'r': o.rounds = atoi(optarg); break;
		case 'd': o.depth = atoi(optarg); break;
		case 'c': o.csv = optarg; break;
		case 'T': o.label = optarg; break;
		case 'H': o.hist_dir = optarg; break;
		case 'I': o.icount = true; break;
		case 'S': o.server_callgrind = true; break;
		case 'B':
			for (i = 0; i < sizeof(backends) / sizeof(*backends); i++)
				printf("%s\n", backends[i].name);
			return 0;
		case 'X': return self_test();
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	for (i = 0; o.backend && i < sizeof(backends) / sizeof(*backends); i++)
		if (strcmp(o.backend, backends[i].name) == 0)
			be = &backends[i];
	if (!be || o.keys == 0 || o.keys > UINT32_MAX || o.vsize < 1 ||
	    o.ops == 0 || o.depth < 1 || o.depth > MAX_DEPTH ||
	    o.rounds < 1 || o.rounds > MAX_ROUNDS ||
	    o.theta <= 0 || o.theta >= 1 ||
	    parse_list(o.workloads, wl_name, NWL, wl_on) ||
	    parse_list(o.dists, dnames, 2, dist_on)) {
		if (o.backend && !be)
			fprintf(stderr, "kvshm-compare: backend '%s' is not "
				"built in (see --list-backends)\n", o.backend);
		usage(stderr);
		return 2;
	}
	if ((!strcmp(be->name, "kvshm") && !o.name) ||
	    ((!strcmp(be->name, "redis") || !strcmp(be->name, "memcached")) &&
	     !o.socket) || (!strcmp(be->name, "lmdb") && !o.lmdb_dir)) {
		fprintf(stderr, "kvshm-compare: %s needs --name, --socket or "
			"--lmdb-dir\n", be->name);
		return 2;
	}
	make_keys();
	for (d = 0; d < 2; d++) {
		if (!dist_on[d])
			continue;
		seqs[d] = malloc(SEQ_LEN * sizeof(uint32_t));
		draw_sequence(seqs[d], o.keys, d == 1, o.theta,
			      0x6b76736dULL + (uint64_t)d);
	}
	csv_open();
	if (o.load && load_all())
		return 1;
	if (o.icount)
		return icount(wl_on, dist_on) ? 1 : 0;
	for (w = 0; w < NWL && !wl_on[w]; w++)
		;
	if (w == NWL)			/* --workloads '': load only */
		return 0;
	r = malloc(sizeof(*r));
	procs = strdup(o.procs);
	for (tok = strtok_r(procs, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		struct pool pool;
		int np = atoi(tok);

		if (np < 1 || np > MAX_PROCS)
			continue;
		if (pool_start(&pool, np)) {
			fprintf(stderr, "kvshm-compare: %d %s clients did not "
				"start\n", np, be->name);
			pool_stop(&pool);
			rc = 1;
			continue;
		}
		for (d = 0; d < 2; d++) {
			for (w = 0; w < NWL; w++) {
				int64_t c0, c1 = -1;

				if (!dist_on[d] || !wl_on[w] ||
				    !supported((enum wl)w))
					continue;
				c0 = o.server_pid > 0 ?
				     proc_cpu_ns(o.server_pid) : -1;
				if (pool_run(&pool, (enum wl)w, d, r))
					rc = 1;
				if (c0 >= 0)
					c1 = proc_cpu_ns(o.server_pid) - c0;
				report((enum wl)w, d, np, r, c1);
				if (r->errors)
					rc = 1;
			}
		}
		if (pool_stop(&pool))
			rc = 1;
	}
	if (csv)
		fclose(csv);
	free(procs);
	free(r);
	return rc;
}

/* ---- --self-test: a TAP stream, no server needed ---- */

static int tap_n, tap_fail;

static void check(bool ok, const char *what)
{
	printf("%sok %d - %s\n", ok ? "" : "not ", ++tap_n, what);
	tap_fail += !ok;
}

static int self_test(void)
{
	enum { N = 1000 };
	static uint64_t hist[KVT_HBUCKETS];
	uint32_t *a = malloc(SEQ_LEN * sizeof(*a));
	uint32_t *b = malloc(SEQ_LEN * sizeof(*b));
	uint64_t *count = calloc(N, sizeof(*count)), s = 1, i, maxc = 0;
	struct zipf z;
	double expect0;
	bool in_range = true, mono = true;
	unsigned int k;

	printf("1..11\n");
	draw_sequence(a, N, true, 0.99, 42);
	draw_sequence(b, N, true, 0.99, 42);
	check(memcmp(a, b, SEQ_LEN * sizeof(*a)) == 0,
	      "the same seed draws the same key sequence");
	for (i = 0; i < SEQ_LEN; i++) {
		in_range &= a[i] < N;
		if (a[i] < N)
			count[a[i]]++;
	}
	check(in_range, "every Zipf key index is below the key count");
	zipf_init(&z, N, 0.99);
	expect0 = (double)SEQ_LEN / z.zetan;
	check(fabs((double)count[0] - expect0) < 0.05 * expect0,
	      "the hottest key is drawn 1/zeta(n) of the time (+-5%)");
	for (i = 0; i < N; i++)
		maxc = count[i] > maxc ? count[i] : maxc;
	check(maxc == count[0], "rank 0 (key 0) is the hottest key");
	/* frequencies by rank fall off: compare ranks 1, 10, 100 */
	mono = count[scatter(1, N)] > count[scatter(10, N)] &&
	       count[scatter(10, N)] > count[scatter(100, N)];
	check(mono, "Zipf frequencies fall with rank (1 > 10 > 100)");
	draw_sequence(a, N, false, 0, 42);
	memset(count, 0, N * sizeof(*count));
	for (i = 0; i < SEQ_LEN; i++)
		count[a[i] % N]++;
	maxc = 0;
	for (i = 0; i < N; i++)
		maxc = count[i] > maxc ? count[i] : maxc;
	check(maxc < 2 * SEQ_LEN / N, "uniform keys: no key drawn twice its share");
	for (k = 0; k < 100000; k++)
		hist[kvt_hist_bucket(kvt_splitmix(&s) % 1000000)]++;
	i = kvt_hist_percentile(hist, 0.5);
	check(i > 470000 && i < 530000,
	      "the histogram's median of uniform [0, 1 ms) is 0.5 ms (+-6%)");
	in_range = true;
	for (k = 1; k < 56 * KVT_HSUB; k++)
		in_range &= kvt_hist_bucket(kvt_hist_floor(k)) == k &&
			    kvt_hist_bucket(kvt_hist_floor(k + 1) - 1) == k;
	check(in_range, "every bucket's floor maps back to that bucket");
	o.keys = 20;
	make_keys();
	check(memcmp(key_of(12), "key:0000000012", KLEN) == 0,
	      "keys are 14 bytes, key:%010u");
	{
		/* 10, 2 and 5 ops per ns; then a fourth at 8. */
		struct round rd[4] = { { 100, 0, 10 }, { 100, 50, 100 },
				       { 100, 1000, 1020 } };

		check(median_round(rd, 3).t0 == 1000,
		      "of three throughput rounds the median rate is reported");
		rd[3] = (struct round){ 80, 0, 10 };
		check(median_round(rd, 4).ops == 80 &&
		      median_round(rd, 1).t1 - median_round(rd, 1).t0 == 50,
		      "of four, the upper middle one; of one, that one");
	}
	free(a);
	free(b);
	free(count);
	free(keys);
	return tap_fail ? 1 : 0;
}
