// SPDX-License-Identifier: MIT
/*
 * kvshm-hitratio.c - hit ratio of kvshm's eviction policies on skewed
 * traces, next to exact LRU (computed offline on the same trace) and to
 * Redis 7's allkeys-lru and allkeys-lfu. Built, not installed; results in
 * BENCHMARKS.md.
 *
 * Each trace is generated from a fixed seed over K keys (ids 0..K-1,
 * popularity rank mapped to ids through a seeded permutation):
 *	zipf0.8, zipf0.99, zipf1.2   Zipf over the K keys
 *	scan      zipf 0.99, with 25% of requests in sequential scans of
 *	          K/5 keys each (in id order: popular and cold alike)
 *	shift     zipf 0.99 whose ranks rotate by K/4 every R/5 requests:
 *	          the working set moves four times
 * Each request is a GET; a miss is followed by a SET of a 1 KiB value,
 * as a look-aside cache does. Both run in a separate client process: for
 * kvshm through libkvshm against a kvshmd started per run with
 * --max-entries C (C = 1%, 10%, 50% of K) and the policy under test; for
 * Redis over a Unix socket (a minimal RESP client), maxmemory set so
 * that it keeps C such keys (found by trial, see redis_replay(); the
 * keys it held at the end are printed), its eviction sampling at the
 * default 5. Every SET carries a 1-hour TTL on
 * kvshm, so that the volatile-* policies apply to every key; Redis gets
 * no TTL (its allkeys-* policies ignore it).
 *
 * Every server and its client run pinned to one vCPU (--cpu, default 0):
 * a round trip then costs a few microseconds instead of tens (see
 * BENCHMARKS.md), the same for kvshm and Redis, and hit ratios do not
 * depend on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>		/* sched_setaffinity: _GNU_SOURCE from config.h */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kvshm.h>

#include "splitmix.h"

#define VSIZE	1024
#define TTL_MS	3600000

static struct {
	const char *kvshmd;
	const char *redis;		/* redis-server path, NULL: skip */
	uint32_t keys;
	uint32_t reqs;
	uint64_t seed;
	const char *traces;
	const char *policies;
	const char *sizes;
	int cpu;
} o = {
	.kvshmd = "daemon/kvshmd",
	.keys = 50000,
	.reqs = 500000,
	.seed = 42,
	.traces = "zipf0.8,zipf0.99,zipf1.2,scan,shift",
	.policies = "lru,lfu,random,volatile-ttl,volatile-lru,volatile-lfu,"
		    "volatile-random,sieve",
	.sizes = "1,10,50",
};

static void pin(void)
{
	cpu_set_t set;

	if (o.cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(o.cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* ---- traces ---- */

static uint64_t rng_state;

static uint64_t rnd64(void)
{
	return kvt_splitmix(&rng_state);
}

static double rnd01(void)
{
	return kvt_unit(&rng_state);
}

struct zipf {
	double *cdf;
	uint32_t n;
};

static void zipf_init(struct zipf *z, uint32_t n, double s)
{
	double sum = 0;
	uint32_t i;

	z->n = n;
	z->cdf = malloc(n * sizeof(double));
	for (i = 0; i < n; i++)
		sum += 1.0 / pow((double)i + 1, s);
	for (i = 0; i < n; i++)
		z->cdf[i] = (i ? z->cdf[i - 1] : 0) +
			    1.0 / pow((double)i + 1, s) / sum;
}

static uint32_t zipf_rank(const struct zipf *z)
{
	double u = rnd01();
	uint32_t lo = 0, hi = z->n - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (z->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint32_t *make_trace(const char *kind)
{
	uint32_t *t = malloc((size_t)o.reqs * sizeof(*t));
	uint32_t *perm = malloc((size_t)o.keys * sizeof(*perm));
	uint32_t i, j, scan_left = 0, scan_pos = 0;
	double s = 0.99;
	struct zipf z;

	rng_state = o.seed;
	for (i = 0; i < o.keys; i++)
		perm[i] = i;
	for (i = o.keys - 1; i > 0; i--) {
		uint32_t k = (uint32_t)(rnd64() % (i + 1)), x = perm[i];

		perm[i] = perm[k];
		perm[k] = x;
	}
	if (strncmp(kind, "zipf", 4) == 0)
		s = atof(kind + 4);
	zipf_init(&z, o.keys, s);
	for (i = 0; i < o.reqs; i++) {
		uint32_t rank;

		if (strcmp(kind, "scan") == 0) {
			/* a scan of L keys interleaved 1:1 with zipf requests,
			 * then about 2L zipf requests: 1/4 are scan requests */
			if (!scan_left && rnd01() < 1.0 / (2.0 * (o.keys / 5))) {
				scan_left = o.keys / 5;
				scan_pos = (uint32_t)(rnd64() % o.keys);
			}
			if (scan_left && rnd01() < 0.5) {
				t[i] = scan_pos++ % o.keys;
				scan_left--;
				continue;
			}
		}
		rank = zipf_rank(&z);
		if (strcmp(kind, "shift") == 0) {
			j = i / (o.reqs / 5 ? o.reqs / 5 : 1);
			rank = (rank + j * (o.keys / 4)) % o.keys;
		}
		t[i] = perm[rank];
	}
	free(z.cdf);
	free(perm);
	return t;
}

/* ---- exact LRU, offline ---- */

/*
 * belady - hits of Belady's optimal policy on trace @t with @cap keys, as a
 * look-aside cache runs it (every miss is stored): evict the key whose
 * next request is farthest away. No policy can do better; it tells how
 * much any policy leaves on the table. A max-heap of (next use, key) with
 * stale entries skipped.
 */
struct opt_ent {
	uint32_t when, key;
};

static void opt_push(struct opt_ent *h, uint32_t *n, struct opt_ent e)
{
	uint32_t i = (*n)++;

	while (i && h[(i - 1) / 2].when < e.when) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = e;
}

static struct opt_ent opt_pop(struct opt_ent *h, uint32_t *n)
{
	struct opt_ent top = h[0], last = h[--(*n)];
	uint32_t i = 0, c;

	while ((c = 2 * i + 1) < *n) {
		if (c + 1 < *n && h[c + 1].when > h[c].when)
			c++;
		if (h[c].when <= last.when)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = last;
	return top;
}

static uint64_t belady(const uint32_t *t, uint32_t cap)
{
	uint32_t *nextuse = malloc(o.reqs * sizeof(uint32_t));
	uint32_t *seen = malloc(o.keys * sizeof(uint32_t));
	uint32_t *due = malloc(o.keys * sizeof(uint32_t));
	struct opt_ent *h = malloc((size_t)o.reqs * sizeof(*h));
	bool *in = calloc(o.keys, 1);
	uint32_t i, n = 0, hn = 0;
	uint64_t hits = 0;

	for (i = 0; i < o.keys; i++)
		seen[i] = UINT32_MAX;
	for (i = o.reqs; i-- > 0;) {
		nextuse[i] = seen[t[i]];
		seen[t[i]] = i;
	}
	for (i = 0; i < o.reqs; i++) {
		uint32_t k = t[i];

		if (in[k]) {
			hits++;
		} else if (n == cap) {
			for (;;) {
				struct opt_ent e = opt_pop(h, &hn);

				if (in[e.key] && due[e.key] == e.when) {
					in[e.key] = false;
					break;
				}
			}
		} else {
			n++;
		}
		in[k] = true;
		due[k] = nextuse[i];
		opt_push(h, &hn, (struct opt_ent){ nextuse[i], k });
	}
	free(nextuse);
	free(seen);
	free(due);
	free(h);
	free(in);
	return hits;
}

static uint64_t exact_lru(const uint32_t *t, uint32_t cap)
{
	uint32_t *prev = malloc(o.keys * sizeof(uint32_t));
	uint32_t *next = malloc(o.keys * sizeof(uint32_t));
	bool *in = calloc(o.keys, 1);
	uint32_t head = UINT32_MAX, tail = UINT32_MAX, n = 0, i;
	uint64_t hits = 0;

	for (i = 0; i < o.reqs; i++) {
		uint32_t k = t[i];

		if (in[k]) {
			hits++;
			if (head == k)
				continue;
			/* unlink */
			next[prev[k]] = next[k];
			if (next[k] != UINT32_MAX)
				prev[next[k]] = prev[k];
			else
				tail = prev[k];
		} else if (n == cap) {
			uint32_t v = tail;

			in[v] = false;
			tail = prev[v];
			if (tail != UINT32_MAX)
				next[tail] = UINT32_MAX;
			else
				head = UINT32_MAX;
		} else {
			n++;
		}
		in[k] = true;
		prev[k] = UINT32_MAX;
		next[k] = head;
		if (head != UINT32_MAX)
			prev[head] = k;
		head = k;
		if (tail == UINT32_MAX)
			tail = k;
	}
	free(prev);
	free(next);
	free(in);
	return hits;
}

/* ---- replay through a client process ---- */

static int key_of(uint32_t id, char *k)
{
	return snprintf(k, 16, "k%07u", id);
}

/* Run @fn in a child process; return what it wrote to shared memory. */
static int64_t in_child(int64_t (*fn)(const uint32_t *, const void *),
			const uint32_t *t, const void *arg)
{
	int64_t *res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int64_t v;
	pid_t pid;
	int st;

	*res = -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		pin();
		*res = fn(t, arg);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	v = *res;
	munmap(res, sizeof(*res));
	return v;
}

static int64_t kvshm_replay(const uint32_t *t, const void *arg)
{
	const char *name = arg;
	char k[16], val[VSIZE], buf[VSIZE];
	int64_t hits = 0;
	size_t vlen;
	kvshm_t *c;
	uint32_t i;

	memset(val, 'v', sizeof(val));
	if (kvshm_open(&c, name, NULL))
		return -1;
	for (i = 0; i < o.reqs; i++) {
		int n = key_of(t[i], k);

		if (kvshm_get(c, k, (size_t)n, buf, sizeof(buf), &vlen) == 0) {
			hits++;
		} else if (kvshm_set(c, k, (size_t)n, val, VSIZE, TTL_MS, 0)) {
			fprintf(stderr, "kvshm-hitratio: set failed\n");
			hits = -1;
			break;
		}
	}
	kvshm_close(c);
	return hits;
}

static void rm_rf(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "kvshm-hitratio: could not remove %s\n", dir);
}

static int64_t run_kvshm(const uint32_t *t, const char *policy, uint32_t cap)
{
	char name[64], dir[64], capstr[32];
	int64_t hits = -1;
	kvshm_t *c;
	pid_t pid;
	int i, st;

	snprintf(name, sizeof(name), "hitratio-%d", (int)getpid());
	snprintf(dir, sizeof(dir), "/tmp/kvshm-hitratio-XXXXXX");
	snprintf(capstr, sizeof(capstr), "%u", cap);
	if (!mkdtemp(dir))
		return -1;
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		pin();
		dup2(fd, 2);
		execl(o.kvshmd, o.kvshmd, "--foreground", "--name", name,
		      "--data-dir", dir, "--persistence", "none",
		      "--memory", "256M", "--max-entries",
		      capstr, "--eviction", policy, "--eviction-watermark", "0",
		      (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		if (kvshm_open(&c, name, NULL) == 0) {
			kvshm_close(c);
			hits = in_child(kvshm_replay, t, name);
			break;
		}
		usleep(50000);
	}
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	rm_rf(dir);
	return hits;
}

/* ---- Redis over a Unix socket: just enough RESP ---- */

struct resp {
	int fd;
	char buf[65536];
	size_t len, pos;
};

static int resp_fill(struct resp *r)
{
	ssize_t n;

	if (r->pos == r->len)
		r->pos = r->len = 0;
	n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
	if (n <= 0)
		return -1;
	r->len += (size_t)n;
	return 0;
}

/* One line of the reply (without CRLF) into @line. */
static int resp_line(struct resp *r, char *line, size_t cap)
{
	size_t n = 0;

	for (;;) {
		while (r->pos < r->len) {
			char ch = r->buf[r->pos++];

			if (ch == '\n') {
				if (n && line[n - 1] == '\r')
					n--;
				line[n] = '\0';
				return 0;
			}
			if (n + 1 < cap)
				line[n++] = ch;
		}
		if (resp_fill(r))
			return -1;
	}
}

/* Read one reply; bulk strings are skipped; return its first byte. */
static int resp_reply(struct resp *r, long long *num)
{
	char line[256];
	long long len;

	if (resp_line(r, line, sizeof(line)))
		return -1;
	*num = atoll(line + 1);
	if (line[0] == '$' && *num >= 0) {
		for (len = *num + 2; len > 0;) {
			size_t take;

			if (r->pos == r->len && resp_fill(r))
				return -1;
			take = r->len - r->pos;
			if ((long long)take > len)
				take = (size_t)len;
			r->pos += take;
			len -= (long long)take;
		}
	}
	return line[0];
}

static int resp_send(struct resp *r, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(r->fd, p, n);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int resp_cmd(struct resp *r, char *out, int argc, const char **argv,
		    const size_t *lens)
{
	int n = sprintf(out, "*%d\r\n", argc), i;

	for (i = 0; i < argc; i++) {
		n += sprintf(out + n, "$%zu\r\n", lens[i]);
		memcpy(out + n, argv[i], lens[i]);
		n += (int)lens[i];
		out[n++] = '\r';
		out[n++] = '\n';
	}
	return resp_send(r, out, (size_t)n);
}

static int resp_connect(struct resp *r, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	r->len = r->pos = 0;
	r->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	return connect(r->fd, (struct sockaddr *)&sa, sizeof(sa));
}

/* A simple command with string arguments; its reply's number. */
static long long redis_simple(struct resp *r, const char *a0, const char *a1,
			      const char *a2, const char *a3)
{
	const char *argv[4] = { a0, a1, a2, a3 };
	size_t lens[4];
	char out[512];
	long long num = 0;
	int argc = 0;

	while (argc < 4 && argv[argc]) {
		lens[argc] = strlen(argv[argc]);
		argc++;
	}
	if (resp_cmd(r, out, argc, argv, lens) || resp_reply(r, &num) < 0)
		return -1;
	return num;
}

/* used_memory from INFO memory. */
static long long redis_used(struct resp *r)
{
	const char *argv[2] = { "INFO", "memory" };
	size_t lens[2] = { 4, 6 };
	char out[64], line[256];
	long long len, used = -1;

	if (resp_cmd(r, out, 2, argv, lens) || resp_line(r, line, sizeof(line)))
		return -1;
	len = atoll(line + 1) + 2;
	while (len > 0 && resp_line(r, line, sizeof(line)) == 0) {
		len -= (long long)strlen(line) + 2;
		if (strncmp(line, "used_memory:", 12) == 0)
			used = atoll(line + 12);
	}
	return used;
}

static const char *redis_sock;

struct redis_size {
	double per_key;		/* used_memory per key, measured */
	uint32_t cap;
};

static int64_t redis_replay(const uint32_t *t, const void *arg)
{
	const struct redis_size *rs = arg;
	static struct resp r;
	char k[16], val[VSIZE], out[VSIZE + 256], mm[32];
	const char *argv[3] = { NULL, k, val };
	size_t lens[3] = { 0, 0, VSIZE };
	int64_t hits = 0;
	long long num, base, mmv, held = 0;
	uint32_t i;
	int iter;

	memset(val, 'v', sizeof(val));
	if (resp_connect(&r, redis_sock))
		return -1;
	/*
	 * maxmemory counts client buffers and allocator steps too, so it is
	 * found by trial: fill Redis through this connection with 2 x @cap
	 * distinct keys (outside the trace's), count what it kept, correct
	 * maxmemory by the difference, until it keeps @cap within 1%.
	 */
	for (i = 0; i < 3; i++)
		redis_simple(&r, "GET", "none", NULL, NULL);
	base = redis_used(&r);
	mmv = base + (long long)(rs->per_key * rs->cap);
	for (iter = 0; iter < 6 && base >= 0; iter++) {
		snprintf(mm, sizeof(mm), "%lld", mmv);
		redis_simple(&r, "CONFIG", "SET", "maxmemory", mm);
		redis_simple(&r, "FLUSHALL", "SYNC", NULL, NULL);
		argv[0] = "SET";
		lens[0] = 3;
		for (i = 0; i < 2 * rs->cap; i++) {
			lens[1] = (size_t)key_of(o.keys + i, k);
			if (resp_cmd(&r, out, 3, argv, lens) ||
			    resp_reply(&r, &num) < 0)
				return -1;
		}
		held = redis_simple(&r, "DBSIZE", NULL, NULL, NULL);
		if (held >= rs->cap && held <= rs->cap + rs->cap / 100 + 1)
			break;
		if (getenv("HR_DEBUG"))
			fprintf(stderr, "cal cap %u mm %lld held %lld\n", rs->cap, mmv, held);
		mmv += (long long)(((double)rs->cap - (double)held) * rs->per_key);
	}
	if (base < 0 || redis_simple(&r, "FLUSHALL", "SYNC", NULL, NULL) < 0)
		return -1;
	for (i = 0; i < o.reqs; i++) {
		lens[1] = (size_t)key_of(t[i], k);
		argv[0] = "GET";
		lens[0] = 3;
		if (resp_cmd(&r, out, 2, argv, lens) || resp_reply(&r, &num) != '$')
			return -1;
		if (num >= 0) {
			hits++;
			continue;
		}
		argv[0] = "SET";
		if (resp_cmd(&r, out, 3, argv, lens) || resp_reply(&r, &num) != '+')
			return -1;
	}
	close(r.fd);
	return hits;
}

/* Load @cap keys, pipelined; return used_memory after. */
static long long redis_load(struct resp *r, uint32_t cap)
{
	char k[16], val[VSIZE], out[VSIZE + 256];
	const char *argv[3] = { "SET", k, val };
	size_t lens[3] = { 3, 0, VSIZE };
	long long num;
	uint32_t i, sent = 0, got = 0;

	memset(val, 'v', sizeof(val));
	for (i = 0; i < cap; i++) {
		lens[1] = (size_t)key_of(i, k);
		if (resp_cmd(r, out, 3, argv, lens))
			return -1;
		if (++sent - got >= 256)
			for (; got < sent; got++)
				resp_reply(r, &num);
	}
	for (; got < sent; got++)
		resp_reply(r, &num);
	return redis_used(r);
}

struct redis_srv {
	pid_t pid;
	char dir[64];
	char sock[128];
};

static int redis_start(struct redis_srv *s)
{
	struct resp r;
	int i;

	snprintf(s->dir, sizeof(s->dir), "/tmp/kvshm-hitratio-redis-XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	snprintf(s->sock, sizeof(s->sock), "%s/redis.sock", s->dir);
	s->pid = fork();
	if (s->pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		pin();
		dup2(fd, 1);
		execl(o.redis, o.redis, "--port", "0", "--unixsocket", s->sock,
		      "--unixsocketperm", "700", "--save", "", "--appendonly",
		      "no", "--dir", s->dir, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		if (resp_connect(&r, s->sock) == 0) {
			close(r.fd);
			return 0;
		}
		close(r.fd);
		usleep(50000);
	}
	return -1;
}

static void redis_stop(struct redis_srv *s)
{
	int st;

	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	waitpid(s->pid, &st, 0);
	rm_rf(s->dir);
}

/* Hits of Redis with @policy and maxmemory for @cap keys; *@held: keys
 * it held at the end. */
static int64_t run_redis(struct redis_srv *s, const uint32_t *t,
			 const char *policy, uint32_t cap, long long *held)
{
	struct redis_size sz = { .cap = cap };
	uint32_t ncal = cap > 20000 ? cap : 20000;
	long long used0, used1;
	struct resp r;
	int64_t hits;

	if (resp_connect(&r, s->sock))
		return -1;
	redis_simple(&r, "CONFIG", "SET", "maxmemory", "0");
	redis_simple(&r, "FLUSHALL", "SYNC", NULL, NULL);
	/* The size of a key, from loading many (the keyspace's hash table
	 * included, averaged over its power-of-two steps). */
	used0 = redis_used(&r);
	used1 = redis_load(&r, ncal);
	sz.per_key = (double)(used1 - used0) / ncal;
	redis_simple(&r, "FLUSHALL", "SYNC", NULL, NULL);
	redis_simple(&r, "CONFIG", "SET", "maxmemory-policy", policy);
	redis_sock = s->sock;
	hits = in_child(redis_replay, t, &sz);
	*held = redis_simple(&r, "DBSIZE", NULL, NULL, NULL);
	redis_simple(&r, "CONFIG", "SET", "maxmemory", "0");
	close(r.fd);
	return hits;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
"Usage: kvshm-hitratio [--kvshmd PATH] [--redis-server PATH] [--keys K]\n"
"         [--requests R] [--seed S] [--traces LIST] [--policies LIST]\n"
"         [--sizes LIST]\n"
"Hit ratios of kvshm eviction policies, exact LRU and Redis on traces.\n"
"  --traces    zipf0.8,zipf0.99,zipf1.2,scan,shift (default: all)\n"
"  --policies  kvshm policies (default: all but noeviction)\n"
"  --sizes     cache sizes in %% of the keys (default: 1,10,50)\n"
"  --redis-server  also run Redis allkeys-lru and allkeys-lfu\n"
"  --cpu N     pin servers and clients to vCPU N, -1 not (default: 0)\n");
}

static int split(const char *list, char out[][32], int max)
{
	const char *p = list;
	int n = 0;

	while (*p && n < max) {
		size_t len = strcspn(p, ",");

		snprintf(out[n++], 32, "%.*s", (int)len, p);
		p += len;
		if (*p)
			p++;
	}
	return n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kvshmd", required_argument, NULL, 'd' },
		{ "redis-server", required_argument, NULL, 'r' },
		{ "keys", required_argument, NULL, 'k' },
		{ "requests", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "traces", required_argument, NULL, 't' },
		{ "policies", required_argument, NULL, 'p' },
		{ "sizes", required_argument, NULL, 'z' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char traces[8][32], pols[16][32], sizes[8][32];
	int nt, np, ns, ti, pi, si, opt;
	struct redis_srv rs = { 0 };

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': o.kvshmd = optarg; break;
		case 'r': o.redis = optarg; break;
		case 'k': o.keys = (uint32_t)atol(optarg); break;
		case 'n': o.reqs = (uint32_t)atol(optarg); break;
		case 's': o.seed = strtoull(optarg, NULL, 10); break;
		case 't': o.traces = optarg; break;
		case 'p': o.policies = optarg; break;
		case 'z': o.sizes = optarg; break;
		case 'c': o.cpu = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (o.keys < 100 || o.reqs < 1000) {
		fprintf(stderr, "kvshm-hitratio: --keys >= 100, --requests >= 1000\n");
		return 2;
	}
	nt = split(o.traces, traces, 8);
	np = split(o.policies, pols, 16);
	ns = split(o.sizes, sizes, 8);
	if (o.redis && redis_start(&rs)) {
		fprintf(stderr, "kvshm-hitratio: cannot start %s\n", o.redis);
		return 1;
	}
	printf("# kvshm-hitratio: %u keys, %u requests, seed %llu; hit ratio %%\n",
	       o.keys, o.reqs, (unsigned long long)o.seed);
	printf("\n| trace | cache | OPT | exact LRU |");
	for (pi = 0; pi < np; pi++)
		printf(" %s |", pols[pi]);
	if (o.redis)
		printf(" redis lru | redis lfu | redis keys | best kvshm at "
		       "redis keys |");
	printf(" best kvshm - best redis | best kvshm - exact LRU |\n|---|---|---|");
	for (pi = 0; pi < np + (o.redis ? 4 : 0) + 3; pi++)
		printf("---|");
	printf("\n");
	fflush(stdout);
	for (ti = 0; ti < nt; ti++) {
		uint32_t *t = make_trace(traces[ti]);

		for (si = 0; si < ns; si++) {
			uint32_t cap = (uint32_t)((uint64_t)o.keys *
						  (uint64_t)atoi(sizes[si]) / 100);
			double lru = 100.0 * (double)exact_lru(t, cap) / o.reqs;
			double best = -1, rbest = -1, same = -1;
			int bestp = 0;

			printf("| %s | %s%% (%u) | %.2f | %.2f |", traces[ti],
			       sizes[si], cap, 100.0 * (double)belady(t, cap) / o.reqs,
			       lru);
			fflush(stdout);
			for (pi = 0; pi < np; pi++) {
				int64_t h = run_kvshm(t, pols[pi], cap);
				double r = 100.0 * (double)h / o.reqs;

				if (h < 0)
					printf(" error |");
				else
					printf(" %.2f |", r);
				if (h >= 0 && r > best) {
					best = r;
					bestp = pi;
				}
				fflush(stdout);
			}
			if (o.redis) {
				long long held[2];
				int64_t h1 = run_redis(&rs, t, "allkeys-lru", cap,
						       &held[0]);
				int64_t h2 = run_redis(&rs, t, "allkeys-lfu", cap,
						       &held[1]);
				double r1 = 100.0 * (double)h1 / o.reqs;
				double r2 = 100.0 * (double)h2 / o.reqs;

				rbest = r1 > r2 ? r1 : r2;
				printf(" %.2f | %.2f | %lld/%lld |", r1, r2,
				       held[0], held[1]);
				/*
				 * Redis's maxmemory cannot be set to hold exactly
				 * @cap keys (client buffers count too): where it
				 * held more, compare at equal room, running the
				 * best kvshm policy with as many keys as Redis
				 * held at most (the other policies are not rerun:
				 * a lower bound of our best).
				 */
				if (held[0] > cap || held[1] > cap) {
					long long most = held[0] > held[1] ?
							 held[0] : held[1];
					int64_t h = run_kvshm(t, pols[bestp],
							      (uint32_t)most);

					same = h < 0 ? -1 : 100.0 * (double)h / o.reqs;
					printf(" %.2f (%s) |", same, pols[bestp]);
				} else {
					same = best;
					printf(" = |");
				}
			}
			if (o.redis)
				printf(" %+.2f |", same - rbest);
			else
				printf(" - |");
			printf(" %+.2f |\n", best - lru);
			fflush(stdout);
		}
		free(t);
	}
	redis_stop(&rs);
	return 0;
}
