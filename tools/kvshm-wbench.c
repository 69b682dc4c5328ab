// SPDX-License-Identifier: MIT
/*
 * tools/kvshm-wbench.c - durability benchmark: what the WAL, snapshots and
 * recovery cost, measured against a kvshmd this tool starts and stops
 * itself (--kvshmd PATH; a unique --name, a temporary directory under
 * /tmp that is removed at the end, stopped by PID).
 *
 *  writes    unpipelined kvshm_set() of 14-byte keys and V-byte values
 *            from 1 and from 8 writer processes, for --persistence none
 *            and for the WAL under --fsync no, everysec and always:
 *            throughput and latency (p50/p99/p99.9), each point repeated
 *            (--reps) with the configurations interleaved, median shown;
 *  snapshot  N keys loaded, then a snapshot triggered (--snapshot-writes)
 *            while a reader process times kvshm_get() one by one: the
 *            snapshot's rate (file MB/s, raw MB/s, keys/s, from kvshmd's
 *            "event=snapshot" log line) and the reader's latency before
 *            and during it;
 *  restart   time from exec to serving (kvshm_open() succeeds) and
 *            kvshmd's own "event=recovered ... ms=" for N keys, from a
 *            snapshot only and from the WAL only (no snapshot taken).
 *
 * --resp N prints N SET commands in the Redis protocol, with the very
 * keys and values the other parts use, for tools/persist-compare.sh.
 *
 * Must never hold: anything but the public API (kvshm.h). It reads
 * kvshmd's log and data directory as a user would (ls, grep).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
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

#define KLEN		14
#define MAX_WRITERS	64
#define MAX_REPS	9
#define LOAD_BATCH	5000

struct opts {
	const char *kvshmd;
	const char *parts;
	const char *modes;
	const char *memory;
	uint64_t keys;			/* snapshot and restart */
	uint64_t write_keys;		/* key space of the write test */
	uint32_t vsize;
	int writers[8];
	int nwriters;
	int reps;
	double secs;
	bool text_values;
};

static struct opts o = {
	.parts = "writes,snapshot,restart",
	.modes = "none,no,everysec,always",
	.keys = 1000000, .write_keys = 100000, .vsize = 100,
	.writers = { 1, 8 }, .nwriters = 2, .reps = 3, .secs = 3.0,
};

/* ---- clocks, keys, values ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void key_of(char *k, uint64_t i)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "key:%010" PRIu64, (uint64_t)(i % 10000000000ULL));
	memcpy(k, tmp, KLEN);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/*
 * Value of key @i (and of its @gen-th rewrite). By default random
 * alphanumerics, which lz4 barely compresses (about 6 bits of entropy a
 * byte), so a snapshot's file rate is not flattered; --text-values gives
 * one repeated letter, which compresses ~10x.
 */
static void value_of(char *v, uint64_t i, uint64_t gen)
{
	static const char an[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
				 "klmnopqrstuvwxyz0123456789+/";
	uint64_t s = mix(i * 0x9e3779b97f4a7c15ULL + gen + 1), r = 0;
	uint32_t j;

	if (o.text_values) {
		memset(v, 'a' + (int)((i + gen) % 26), o.vsize);
		return;
	}
	for (j = 0; j < o.vsize; j++) {
		if (j % 10 == 0) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			r = s;
		}
		v[j] = an[r & 63];
		r >>= 6;
	}
}

/* ---- latency histograms (tools/lathist.h) ---- */

struct hist {
	uint64_t ops;
	uint64_t errors;
	double secs;
	uint64_t b[KVT_HBUCKETS];
};

static uint64_t pct(const struct hist *h, double p)
{
	return kvt_hist_percentile(h->b, p);
}

static void hist_add(struct hist *to, const struct hist *h)
{
	unsigned int b;

	to->ops += h->ops;
	to->errors += h->errors;
	for (b = 0; b < KVT_HBUCKETS; b++)
		to->b[b] += h->b[b];
}

static void *shared_alloc(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("kvshm-wbench: mmap");
		exit(1);
	}
	memset(p, 0, n);
	return p;
}

/* ---- the daemon under test ---- */

struct daemon {
	pid_t pid;
	double cpu_at_serve;		/* its user+system CPU s then */
	char name[64];
	char root[64];			/* /tmp/kvshm-wbench-XXXXXX */
	char data[96];			/* root/data: --data-dir */
	char log[96];			/* root/kvshmd.log: its stderr */
};

static struct daemon *live;		/* stopped by the signal handler */
static char root_dir[64];

static void rm_rf(const char *path);

/*
 * SIGINT, SIGTERM, SIGHUP, SIGPIPE (a reader of our output gone): kill
 * the daemon, remove its segments and the work directory, which atexit()
 * would not do on death by a signal, then die of it. system() is not async-signal
 * safe, but the process only ends after it, and nothing else runs then.
 */
static void on_signal(int sig)
{
	if (live && live->pid > 0) {
		char shm[96];

		kill(live->pid, SIGKILL);
		waitpid(live->pid, NULL, 0);
		/* Killed, it cannot remove its segments: as kvshmd names
		 * them (daemon/segment.c). */
		snprintf(shm, sizeof(shm), "/kvshm-%s", live->name);
		shm_unlink(shm);
		snprintf(shm, sizeof(shm), "/kvshm-%s.rw", live->name);
		shm_unlink(shm);
	}
	rm_rf(root_dir);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void rm_rf(const char *path)
{
	char cmd[256];

	if (!path[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "kvshm-wbench: could not remove %s\n", path);
}

/* A fresh data directory (and log) for the next daemon. */
static void daemon_init(struct daemon *d, const char *tag)
{
	static int seq;

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "wbench-%d-%d", (int)getpid(), ++seq);
	snprintf(d->root, sizeof(d->root), "%s", root_dir);
	snprintf(d->data, sizeof(d->data), "%s/%s-%d", root_dir, tag, seq);
	snprintf(d->log, sizeof(d->log), "%s/%s-%d.log", root_dir, tag, seq);
	if (mkdir(d->data, 0700) < 0) {
		perror("kvshm-wbench: mkdir");
		exit(1);
	}
}

/* User + system CPU seconds process @pid has used (all its threads). */
static double cpu_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;	/* fields 14, 15 after comm */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/*
 * Start kvshmd with @extra (NULL-terminated) and return the seconds from
 * fork() until a client can open the cache (kvshmd publishes its segment
 * only after recovery), or -1.
 */
static double daemon_start(struct daemon *d, const char *const *extra)
{
	const char *argv[40];
	double t0 = now_s();
	int n = 0, i, st;

	argv[n++] = o.kvshmd;
	argv[n++] = "--foreground";
	argv[n++] = "--name";
	argv[n++] = d->name;
	argv[n++] = "--data-dir";
	argv[n++] = d->data;
	argv[n++] = "--memory";
	argv[n++] = o.memory;
	for (i = 0; extra && extra[i] && n < 38; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	fflush(stdout);
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execv(o.kvshmd, (char *const *)argv);
		_exit(127);
	}
	live = d;
	for (;;) {
		kvshm_t *c;

		if (kvshm_open(&c, d->name, NULL) == 0) {
			double t = now_s() - t0;

			d->cpu_at_serve = cpu_of(d->pid);
			kvshm_close(c);
			return t;
		}
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			fprintf(stderr, "kvshm-wbench: kvshmd exited at start; "
				"see %s\n", d->log);
			d->pid = 0;
			return -1;
		}
		if (now_s() - t0 > 900)
			return -1;
		usleep(1000);
	}
}

/* SIGTERM, wait; return the seconds it took (a snapshot at stop counts). */
static double daemon_stop(struct daemon *d)
{
	double t0 = now_s();
	int st;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	waitpid(d->pid, &st, 0);
	d->pid = 0;
	live = NULL;
	return now_s() - t0;
}

/*
 * The value of "@field=" in the last line of the log that contains @event
 * (e.g. "event=snapshot "), or -1.
 */
static double log_field(const struct daemon *d, const char *event,
			const char *field)
{
	char line[2048], last[2048] = "", key[64], *p;
	FILE *f = fopen(d->log, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, event))
			memcpy(last, line, sizeof(line));
	fclose(f);
	snprintf(key, sizeof(key), " %s=", field);
	p = strstr(last, key);
	return p ? atof(p + strlen(key)) : -1;
}

static int log_count(const struct daemon *d, const char *event)
{
	char line[2048];
	FILE *f = fopen(d->log, "r");
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, event))
			n++;
	fclose(f);
	return n;
}

/* Total bytes of the data directory's files whose names start @prefix
 * and end @suffix. */
static uint64_t dir_bytes(const struct daemon *d, const char *prefix,
			  const char *suffix)
{
	DIR *dir = opendir(d->data);
	struct dirent *de;
	uint64_t sum = 0;

	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		size_t n = strlen(de->d_name), s = strlen(suffix);
		char path[512];
		struct stat st;

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 ||
		    n < s || strcmp(de->d_name + n - s, suffix) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", d->data, de->d_name);
		if (stat(path, &st) == 0)
			sum += (uint64_t)st.st_size;
	}
	closedir(dir);
	return sum;
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
	else if (strncmp(text, key + 1, strlen(key + 1)) == 0)
		v = atoll(text + strlen(key + 1));
	free(text);
	return v;
}

static long long keys_of(const struct daemon *d)
{
	kvshm_t *c;
	long long n;

	if (kvshm_open(&c, d->name, NULL))
		return -1;
	n = stat_of(c, "keys");
	kvshm_close(c);
	return n;
}

/* Load keys [0, n) with kvshm_mset(); return the seconds it took or -1. */
static double load(const struct daemon *d, uint64_t n)
{
	struct kvshm_kv *kv = calloc(LOAD_BATCH, sizeof(*kv));
	char *ks = malloc((size_t)LOAD_BATCH * KLEN);
	char *vs = malloc((size_t)LOAD_BATCH * o.vsize);
	double t0 = now_s(), t = -1;
	uint64_t i, m, j;
	kvshm_t *c;
	int rc = 0;

	if (!kv || !ks || !vs || kvshm_open(&c, d->name, NULL))
		goto out;
	for (i = 0; i < n && rc == 0; i += m) {
		m = n - i < LOAD_BATCH ? n - i : LOAD_BATCH;
		for (j = 0; j < m; j++) {
			key_of(ks + j * KLEN, i + j);
			value_of(vs + j * o.vsize, i + j, 0);
			kv[j] = (struct kvshm_kv){
				.key = ks + j * KLEN, .klen = KLEN,
				.val = vs + j * o.vsize, .vlen = o.vsize,
			};
		}
		rc = kvshm_mset(c, kv, (size_t)m);
	}
	kvshm_close(c);
	if (rc)
		fprintf(stderr, "kvshm-wbench: mset: %s\n", kvshm_strerror(rc));
	else
		t = now_s() - t0;
out:
	free(kv);
	free(ks);
	free(vs);
	return t;
}

/* ---- writes ---- */

struct wshared {
	volatile int go;
	struct hist h[MAX_WRITERS];
};

/* One writer: SETs of random keys of the key space until @secs pass. */
static int writer_main(const struct daemon *d, struct wshared *ws, int id)
{
	struct hist *h = &ws->h[id];
	uint64_t s = mix((uint64_t)id + 77 + (uint64_t)getpid()), gen = 0;
	char k[KLEN], *v = malloc(o.vsize);
	double end;
	kvshm_t *c;

	if (!v || kvshm_open(&c, d->name, NULL))
		return 2;
	while (!ws->go)
		usleep(100);
	h->secs = now_s();
	end = h->secs + o.secs;
	while (now_s() < end) {
		uint64_t i, t0;

		s = mix(s);
		i = s % o.write_keys;
		key_of(k, i);
		value_of(v, i, ++gen);
		t0 = now_ns();
		if (kvshm_set(c, k, KLEN, v, o.vsize, 0, 0))
			h->errors++;
		h->b[kvt_hist_bucket(now_ns() - t0)]++;
		h->ops++;
	}
	h->secs = now_s() - h->secs;
	kvshm_close(c);
	free(v);
	return 0;
}

/* Run @nw writers at once; sum into @sum (secs: their mean). */
static int run_writers(const struct daemon *d, int nw, struct hist *sum)
{
	struct wshared *ws = shared_alloc(sizeof(*ws));
	pid_t pid[MAX_WRITERS];
	int i, st, bad = 0;

	fflush(stdout);
	for (i = 0; i < nw; i++) {
		pid[i] = fork();
		if (pid[i] == 0)
			_exit(writer_main(d, ws, i));
	}
	usleep(200000);			/* let every writer open its handle */
	ws->go = 1;
	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < nw; i++) {
		waitpid(pid[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			bad = 1;
		hist_add(sum, &ws->h[i]);
		sum->secs += ws->h[i].secs / nw;
	}
	munmap(ws, sizeof(*ws));
	return bad ? -1 : 0;
}

struct wpoint {
	struct hist h[MAX_REPS];
	double rate[MAX_REPS];
};

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Index of the median rep by throughput. */
static int median_rep(const struct wpoint *p, int reps)
{
	double s[MAX_REPS];
	int i;

	memcpy(s, p->rate, sizeof(double) * (size_t)reps);
	qsort(s, (size_t)reps, sizeof(double), cmp_dbl);
	for (i = 0; i < reps; i++)
		if (p->rate[i] == s[reps / 2])
			return i;
	return 0;
}

static double median_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_dbl);
	return v[n / 2];
}

static const char *const all_modes[] = { "none", "no", "everysec", "always" };

static int bench_writes(void)
{
	static struct wpoint pt[4][8];
	bool use[4];
	int m, w, r, rc = 0;

	for (m = 0; m < 4; m++)
		use[m] = strstr(o.modes, all_modes[m]) != NULL;
	for (r = 0; r < o.reps; r++) {
		for (m = 0; m < 4; m++) {
			const char *ex[12] = { "--persistence", "wal",
				"--fsync", all_modes[m],
				"--snapshot-interval", "0",
				"--snapshot-writes", "0",
				"--snapshot-on-stop", "no", NULL };
			struct daemon d;

			if (!use[m])
				continue;
			if (m == 0) {
				ex[1] = "none";
				ex[2] = NULL;
			}
			daemon_init(&d, "w");
			if (daemon_start(&d, ex) < 0 || load(&d, o.write_keys) < 0) {
				daemon_stop(&d);
				return -1;
			}
			for (w = 0; w < o.nwriters; w++) {
				struct hist *h = &pt[m][w].h[r];

				if (run_writers(&d, o.writers[w], h) < 0)
					rc = -1;
				pt[m][w].rate[r] = (double)h->ops / h->secs;
			}
			daemon_stop(&d);
			rm_rf(d.data);
		}
	}
	printf("\n## writes: unpipelined kvshm_set, %d-byte keys, %u-byte values, "
	       "%" PRIu64 " keys, %.1f s per point, median of %d runs "
	       "(configurations interleaved)\n\n", KLEN, o.vsize, o.write_keys,
	       o.secs, o.reps);
	printf("| persistence | fsync    | writers | throughput (median) | "
	       "min .. max | p50 µs | p99 µs | p99.9 µs | vs none | errors |\n");
	printf("|-------------|----------|--------:|--------------------:|"
	       "-----------|-------:|-------:|---------:|--------:|-------:|\n");
	for (m = 0; m < 4; m++) {
		if (!use[m])
			continue;
		for (w = 0; w < o.nwriters; w++) {
			struct wpoint *p = &pt[m][w];
			int mi = median_rep(p, o.reps);
			double lo = p->rate[0], hi = p->rate[0], base = 0;
			char vs[32] = "-";

			for (r = 1; r < o.reps; r++) {
				lo = p->rate[r] < lo ? p->rate[r] : lo;
				hi = p->rate[r] > hi ? p->rate[r] : hi;
			}
			if (use[0] && m != 0) {
				base = pt[0][w].rate[median_rep(&pt[0][w],
								o.reps)];
				snprintf(vs, sizeof(vs), "%+.1f %%",
					 100.0 * (p->rate[mi] / base - 1));
			}
			printf("| %-11s | %-8s | %7d | %13.1f k/s | %.1f .. %.1f k"
			       " | %6.1f | %6.1f | %8.1f | %7s | %" PRIu64 " |\n",
			       m == 0 ? "none" : "wal", m == 0 ? "-" : all_modes[m],
			       o.writers[w], p->rate[mi] / 1e3, lo / 1e3,
			       hi / 1e3, pct(&p->h[mi], 0.5) / 1e3,
			       pct(&p->h[mi], 0.99) / 1e3,
			       pct(&p->h[mi], 0.999) / 1e3, vs, p->h[mi].errors);
		}
	}
	if (use[3] && o.nwriters >= 2) {
		double a = pt[3][0].rate[median_rep(&pt[3][0], o.reps)];
		double b = pt[3][o.nwriters - 1].rate[median_rep(
				&pt[3][o.nwriters - 1], o.reps)];

		printf("\n# fsync=always: %d writers give %.2fx the throughput "
		       "of %d (group commit)\n", o.writers[o.nwriters - 1],
		       b / a, o.writers[0]);
	}
	fflush(stdout);
	return rc;
}

/* ---- snapshot under reads ---- */

struct rshared {
	volatile int phase;		/* 0 before, 1 during, 2 stop */
	volatile int ready;
	struct hist h[2];
};

static int reader_main(const struct daemon *d, struct rshared *rs)
{
	uint64_t s = 12345;
	char k[KLEN], *buf = malloc(o.vsize + 64);
	double t0[2] = { 0, 0 };
	int ph = 0;
	kvshm_t *c;
	size_t vlen;

	if (!buf || kvshm_open(&c, d->name, NULL))
		return 2;
	/* Warm up: one pass over every key maps the segment's pages into
	 * this new process, so the baseline is not its page faults. */
	for (s = 0; s < o.keys; s++) {
		key_of(k, s);
		kvshm_get(c, k, KLEN, buf, o.vsize + 64, &vlen);
	}
	s = 12345;
	rs->ready = 1;
	t0[0] = now_s();
	while ((ph = rs->phase) < 2) {
		uint64_t t;
		int rc;

		if (ph == 1 && t0[1] == 0) {
			t0[1] = now_s();
			rs->h[0].secs = t0[1] - t0[0];
		}
		s = mix(s);
		key_of(k, s % o.keys);
		t = now_ns();
		rc = kvshm_get(c, k, KLEN, buf, o.vsize + 64, &vlen);
		rs->h[ph].b[kvt_hist_bucket(now_ns() - t)]++;
		rs->h[ph].ops++;
		if (rc)
			rs->h[ph].errors++;
	}
	if (t0[1] != 0)
		rs->h[1].secs = now_s() - t0[1];
	else
		rs->h[0].secs = now_s() - t0[0];
	kvshm_close(c);
	free(buf);
	return 0;
}

static bool snap_tmp_exists(const struct daemon *d)
{
	DIR *dir = opendir(d->data);
	struct dirent *de;
	bool found = false;

	if (!dir)
		return false;
	while (!found && (de = readdir(dir)))
		found = strncmp(de->d_name, "snap-", 5) == 0 &&
			strstr(de->d_name, ".tmp") != NULL;
	closedir(dir);
	return found;
}

struct snapres {
	double keys, bytes, raw, ms;
};

static void snap_from_log(const struct daemon *d, struct snapres *s)
{
	s->keys = log_field(d, "event=snapshot ", "keys");
	s->bytes = log_field(d, "event=snapshot ", "bytes");
	s->raw = log_field(d, "event=snapshot ", "raw_bytes");
	s->ms = log_field(d, "event=snapshot ", "ms");
}

static void print_snap(const char *what, const struct snapres *s)
{
	double sec = s->ms / 1e3;

	if (s->ms <= 0)
		sec = 0.0005;		/* logged as 0 ms */
	printf("| %-26s | %9.0f | %7.1f | %7.1f | %7.0f | %8.1f | %8.1f "
	       "| %7.2f |\n", what, s->keys, s->bytes / 1048576, s->raw / 1048576,
	       s->ms, s->bytes / 1048576 / sec, s->raw / 1048576 / sec,
	       s->keys / sec / 1e6);
}

/*
 * Load @n keys into a WAL daemon, time a snapshot under one reader, stop
 * it (snapshot at stop, timed too), and leave @d's directory holding that
 * last snapshot for the restart part.
 */
static int bench_snapshot(struct daemon *d, uint64_t n, struct snapres *run,
			  struct snapres *stop, struct hist *before,
			  struct hist *during, double *t_load)
{
	char trig[32];
	const char *ex[] = { "--persistence", "wal", "--fsync", "everysec",
		"--snapshot-interval", "0", "--snapshot-writes", trig,
		"--snapshot-on-stop", "yes", "--snapshot-keep", "1", NULL };
	struct rshared *rs = shared_alloc(sizeof(*rs));
	char k[KLEN], *v = malloc(o.vsize);
	double t0;
	pid_t rp;
	kvshm_t *c;
	uint64_t i;
	int st, rc = -1;

	/* The load's writes stay below the trigger; the first writes after
	 * it, made while the reader runs, start the snapshot. */
	snprintf(trig, sizeof(trig), "%" PRIu64, n + 64);
	daemon_init(d, "snap");
	if (daemon_start(d, ex) < 0 || (*t_load = load(d, n)) < 0)
		goto out;
	if (log_count(d, "event=snapshot ") != 0) {
		fprintf(stderr, "kvshm-wbench: a snapshot ran during the load\n");
		goto out;
	}
	fflush(stdout);
	rp = fork();
	if (rp == 0)
		_exit(reader_main(d, rs));
	while (!rs->ready)
		usleep(1000);
	usleep(2000000);		/* the baseline */
	if (kvshm_open(&c, d->name, NULL))
		goto out_reader;
	rs->phase = 1;
	for (i = 0; !snap_tmp_exists(d) && log_count(d, "event=snapshot ") == 0
		    && i < 100000; i++) {
		key_of(k, i % n);
		value_of(v, i % n, 1);
		if (kvshm_set(c, k, KLEN, v, o.vsize, 0, 0))
			break;
	}
	kvshm_close(c);
	t0 = now_s();
	while (log_count(d, "event=snapshot ") == 0 && now_s() - t0 < 600)
		usleep(5000);
	rc = log_count(d, "event=snapshot ") ? 0 : -1;
out_reader:
	rs->phase = 2;
	waitpid(rp, &st, 0);
	*before = rs->h[0];
	*during = rs->h[1];
	snap_from_log(d, run);
	daemon_stop(d);			/* writes the snapshot at stop */
	snap_from_log(d, stop);
out:
	if (d->pid > 0)
		daemon_stop(d);
	munmap(rs, sizeof(*rs));
	free(v);
	return rc;
}

/* ---- restart ---- */

struct restart {
	double serve_s[MAX_REPS], log_ms[MAX_REPS], cpu_s[MAX_REPS];
	long long keys;
	uint64_t bytes;			/* of what it loaded */
};

/* Restart @d's directory @reps times; kvshmd writes nothing at stop. */
static int restarts(struct daemon *d, const char *persist, struct restart *r)
{
	const char *ex[] = { "--persistence", persist, "--fsync", "everysec",
		"--snapshot-interval", "0", "--snapshot-writes", "0",
		"--snapshot-on-stop", "no", NULL };
	int i;

	for (i = 0; i < o.reps; i++) {
		r->serve_s[i] = daemon_start(d, ex);
		if (r->serve_s[i] < 0)
			return -1;
		r->log_ms[i] = log_field(d, "event=recovered ", "ms");
		r->cpu_s[i] = d->cpu_at_serve;
		r->keys = keys_of(d);
		daemon_stop(d);
	}
	return 0;
}

static void print_restart(const char *what, uint64_t n, struct restart *r)
{
	double s = median_of(r->serve_s, o.reps);
	double ms = median_of(r->log_ms, o.reps);
	double cpu = median_of(r->cpu_s, o.reps);
	double lsec = ms > 0 ? ms / 1e3 : 0.0005;

	printf("| %-23s | %9" PRIu64 " | %9lld | %8.1f | %9.3f | %6.0f | "
	       "%8.2f | %11.0f | %17.2f | %5.2f | %13.2f |\n", what, n, r->keys,
	       (double)r->bytes / 1048576, s, ms, (double)n / lsec / 1e6,
	       (double)r->bytes / 1048576 / lsec, (double)n / s / 1e6, cpu,
	       cpu > 0 ? (double)n / cpu / 1e6 : 0);
}

static int bench_snap_restart(uint64_t n, bool want_snap, bool want_restart)
{
	struct snapres run = { 0 }, stop = { 0 };
	struct hist before, during;
	struct restart rs = { 0 }, rw = { 0 };
	struct daemon d, dw;
	double t_load = 0, t_wload = 0;
	const char *ex[] = { "--persistence", "wal", "--fsync", "everysec",
		"--snapshot-interval", "0", "--snapshot-writes", "0",
		"--snapshot-on-stop", "no", NULL };
	int rc = 0;

	if (bench_snapshot(&d, n, &run, &stop, &before, &during, &t_load) < 0)
		return -1;
	if (want_snap) {
		printf("\n## snapshot of %" PRIu64 " keys (%d-byte keys, %u-byte "
		       "%s values); load through kvshm_mset took %.2f s "
		       "(%.2f M keys/s)\n\n", n, KLEN, o.vsize,
		       o.text_values ? "repeated-letter" : "random alphanumeric",
		       t_load, (double)n / t_load / 1e6);
		printf("| snapshot                   |      keys | file MB |  raw MB |"
		       "      ms | file MB/s | raw MB/s | M keys/s |\n");
		printf("|----------------------------|----------:|--------:|--------:|"
		       "--------:|----------:|---------:|---------:|\n");
		print_snap("while 1 reader runs", &run);
		print_snap("at stop (SIGTERM)", &stop);
		printf("\n| reader kvshm_get, 1 process | gets/s | p50 ns | p99 ns "
		       "| p99.9 ns | errors |\n");
		printf("|-----------------------------|-------:|-------:|-------:|"
		       "---------:|-------:|\n");
		printf("| before the snapshot         | %.2f M | %6" PRIu64 " | %6"
		       PRIu64 " | %8" PRIu64 " | %" PRIu64 " |\n",
		       (double)before.ops / before.secs / 1e6,
		       pct(&before, 0.5), pct(&before, 0.99),
		       pct(&before, 0.999), before.errors);
		printf("| while it runs (%6.2f s)     | %.2f M | %6" PRIu64 " | %6"
		       PRIu64 " | %8" PRIu64 " | %" PRIu64 " |\n", during.secs,
		       during.secs > 0 ? (double)during.ops / during.secs / 1e6 : 0,
		       pct(&during, 0.5), pct(&during, 0.99),
		       pct(&during, 0.999), during.errors);
		fflush(stdout);
	}
	if (!want_restart)
		goto out;

	/* From the snapshot alone (the WAL after it is empty). */
	rs.bytes = dir_bytes(&d, "snap-", ".lz4");
	if (restarts(&d, "wal", &rs) < 0)
		rc = -1;
	rm_rf(d.data);

	/* From the WAL alone: load, stop without a snapshot. */
	daemon_init(&dw, "wal");
	if (daemon_start(&dw, ex) < 0 || (t_wload = load(&dw, n)) < 0) {
		daemon_stop(&dw);
		return -1;
	}
	daemon_stop(&dw);
	rw.bytes = dir_bytes(&dw, "wal-", ".log");
	if (restarts(&dw, "wal", &rw) < 0)
		rc = -1;
	rm_rf(dw.data);

	printf("\n## restart with %" PRIu64 " keys, median of %d "
	       "(files in the page cache)\n\n", n, o.reps);
	printf("| restart from            |      keys | recovered |  file MB | "
	       "serving s | log ms | M keys/s | MB/s (file) | M keys/s to serve "
	       "| CPU s | M keys/CPU-s |\n");
	printf("|-------------------------|----------:|----------:|---------:|"
	       "---------:|-------:|---------:|------------:|------------------:"
	       "|------:|--------------:|\n");
	print_restart("snapshot only", n, &rs);
	print_restart("WAL only (mset batches)", n, &rw);
	printf("\n# M keys/s and MB/s from kvshmd's own \"event=recovered ms=\"; "
	       "serving s = fork+exec until kvshm_open() succeeds; CPU s = "
	       "kvshmd's user+system time then (/proc/PID/stat), which a busy "
	       "machine does not inflate\n");
	fflush(stdout);
out:
	rm_rf(d.data);
	return rc;
}

/*
 * --prepare DIR: leave @n keys in DIR as a snapshot (@snap) or as a WAL
 * only, for profiling a recovery by hand (perf record kvshmd ...).
 */
static int prepare(const char *dir, uint64_t n, bool snap)
{
	const char *ex[] = { "--persistence", "wal", "--fsync", "everysec",
		"--snapshot-interval", "0", "--snapshot-writes", "0",
		"--snapshot-on-stop", snap ? "yes" : "no", NULL };
	struct daemon d;
	double t;

	daemon_init(&d, "prep");
	rmdir(d.data);
	snprintf(d.data, sizeof(d.data), "%s", dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		perror("kvshm-wbench: mkdir");
		return -1;
	}
	if (daemon_start(&d, ex) < 0 || (t = load(&d, n)) < 0) {
		daemon_stop(&d);
		return -1;
	}
	daemon_stop(&d);
	printf("# %s: %" PRIu64 " keys loaded in %.2f s, kept as %s\n", dir, n,
	       t, snap ? "a snapshot" : "a WAL");
	return 0;
}

/* ---- the Redis side's input ---- */

static int print_resp(uint64_t n)
{
	char k[KLEN], *v = malloc(o.vsize);
	uint64_t i;

	for (i = 0; i < n; i++) {
		key_of(k, i);
		value_of(v, i, 0);
		printf("*3\r\n$3\r\nSET\r\n$%d\r\n%.*s\r\n$%u\r\n", KLEN, KLEN,
		       k, o.vsize);
		fwrite(v, 1, o.vsize, stdout);
		fputs("\r\n", stdout);
	}
	free(v);
	return fflush(stdout) ? 1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: kvshm-wbench --kvshmd PATH [OPTION]...\n"
"       kvshm-wbench --resp N [--value-size B] [--text-values]\n"
"  --kvshmd PATH     the kvshmd to start (one per configuration)\n"
"  --parts LIST      of writes,snapshot,restart (default: all)\n"
"  --modes LIST      of none,no,everysec,always for writes (default: all)\n"
"  --writers LIST    writer process counts (default 1,8)\n"
"  --write-keys N    key space of the write test (default 100000)\n"
"  --keys N          keys for snapshot and restart (default 1000000)\n"
"  --value-size B    value bytes (default 100)\n"
"  --text-values     one repeated letter per value (lz4 compresses it\n"
"                    ~10x); default: random alphanumerics\n"
"  --secs S          seconds per write point (default 3)\n"
"  --reps R          runs per point, median shown (default 3)\n"
"  --memory SIZE     kvshmd --memory (default: sized to the keys)\n"
"  --resp N          print N Redis SET commands of the same data, exit\n"
"  --prepare DIR     load --keys into a kvshmd on DIR and stop it, leaving\n"
"                    a snapshot (or only the WAL, with --prepare-wal), e.g.\n"
"                    to run perf on a recovery\n");
}

static void cleanup(void)
{
	if (live && live->pid > 0)
		daemon_stop(live);
	rm_rf(root_dir);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "kvshmd", required_argument, NULL, 'd' },
		{ "parts", required_argument, NULL, 'p' },
		{ "modes", required_argument, NULL, 'M' },
		{ "writers", required_argument, NULL, 'w' },
		{ "write-keys", required_argument, NULL, 'W' },
		{ "keys", required_argument, NULL, 'k' },
		{ "value-size", required_argument, NULL, 'v' },
		{ "text-values", no_argument, NULL, 't' },
		{ "secs", required_argument, NULL, 's' },
		{ "reps", required_argument, NULL, 'r' },
		{ "memory", required_argument, NULL, 'm' },
		{ "resp", required_argument, NULL, 'R' },
		{ "prepare", required_argument, NULL, 'P' },
		{ "prepare-wal", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t resp = 0;
	const char *prep = NULL;
	bool prep_wal = false;
	char memory[32], *tok, *save;
	double la[3] = { 0, 0, 0 };
	int opt, rc = 0;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'd': o.kvshmd = optarg; break;
		case 'p': o.parts = optarg; break;
		case 'M': o.modes = optarg; break;
		case 'w':
			o.nwriters = 0;
			for (tok = strtok_r(optarg, ",", &save);
			     tok && o.nwriters < 8;
			     tok = strtok_r(NULL, ",", &save))
				o.writers[o.nwriters++] = atoi(tok);
			break;
		case 'W': o.write_keys = strtoull(optarg, NULL, 10); break;
		case 'k': o.keys = strtoull(optarg, NULL, 10); break;
		case 'v': o.vsize = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 't': o.text_values = true; break;
		case 's': o.secs = atof(optarg); break;
		case 'r': o.reps = atoi(optarg); break;
		case 'm': o.memory = optarg; break;
		case 'R': resp = strtoull(optarg, NULL, 10); break;
		case 'P': prep = optarg; break;
		case 'L': prep_wal = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (o.vsize < 1 || o.keys == 0 || o.write_keys == 0 || o.reps < 1 ||
	    o.reps > MAX_REPS || o.secs <= 0 || o.nwriters < 1) {
		usage(stderr);
		return 2;
	}
	for (opt = 0; opt < o.nwriters; opt++)
		if (o.writers[opt] < 1 || o.writers[opt] > MAX_WRITERS) {
			usage(stderr);
			return 2;
		}
	if (resp)
		return print_resp(resp);
	if (!o.kvshmd) {
		usage(stderr);
		return 2;
	}
	if (!o.memory) {
		uint64_t n = o.keys > o.write_keys ? o.keys : o.write_keys;
		/* the data three times over (replaced items wait for a grace
		 * period), and 256M at least */
		uint64_t mb = (n * (o.vsize + KLEN + 64) * 3 >> 20) + 256;

		snprintf(memory, sizeof(memory), "%" PRIu64 "M", mb);
		o.memory = memory;
	}
	snprintf(root_dir, sizeof(root_dir), "/tmp/kvshm-wbench-XXXXXX");
	if (!mkdtemp(root_dir)) {
		perror("kvshm-wbench: mkdtemp");
		return 1;
	}
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, on_signal);
	if (prep)
		return prepare(prep, o.keys, !prep_wal) < 0;
	if (getloadavg(la, 3) < 0)
		la[0] = -1;
	printf("# kvshm-wbench: kvshmd %s, --memory %s, %u-byte %s values, "
	       "data in %s; load average at start %.2f\n", o.kvshmd, o.memory,
	       o.vsize, o.text_values ? "repeated-letter" : "random",
	       root_dir, la[0]);
	if (strstr(o.parts, "writes") && bench_writes() < 0)
		rc = 1;
	if ((strstr(o.parts, "snapshot") || strstr(o.parts, "restart")) &&
	    bench_snap_restart(o.keys, strstr(o.parts, "snapshot") != NULL,
			       strstr(o.parts, "restart") != NULL) < 0)
		rc = 1;
	if (getloadavg(la, 3) < 0)
		la[0] = -1;
	printf("\n# load average at end %.2f\n", la[0]);
	return rc;
}
