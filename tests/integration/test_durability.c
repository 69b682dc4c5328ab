// SPDX-License-Identifier: MIT
/*
 * integration/test_durability.c - what survives a crash.
 *
 *  1. kvshmd (fsync=always, small WAL segments, frequent snapshots) is
 *     SIGKILLed at a random moment while 4 writer processes store keys
 *     and 3-key batches; after a restart every acknowledged write is there
 *     with its value (or a later one), every batch is whole, TTLs are kept.
 *     Several rounds, then a clean stop and start.
 *  2. Garbage appended to the WAL: truncated at start, logged, data kept.
 *     The zeros of a preallocated segment left by a crash: cut at start,
 *     logged, data kept; a torn record before them: truncated likewise.
 *  3. A flipped byte inside the WAL: kvshmd refuses to start, naming the
 *     file.
 *  4. A corrupt newest snapshot: the previous one plus the WAL.
 *  5. A cut snapshot whose WAL was trimmed: kvshmd refuses to start.
 *  6. Where WAL segments cannot be preallocated (fallocate(2) refused,
 *     tests/lib/fault.c), kvshmd says so and appends with write(2),
 *     through several rotations: every key is back after a SIGKILL, and
 *     the newest segment holds its records and nothing after them.
 *  7. Megabytes of records in one mapped WAL segment (whose written pages
 *     kvshmd unmaps as it goes): all back after a SIGKILL, and the
 *     segment's mapping stays small.
 *
 * KVSHM_TORTURE_SECS=N runs more crash rounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../lib/files.h"
#include "../tap.h"

#define WRITERS	4
#define KEYS	40		/* plain keys per writer */
#define BATCHES	10		/* 3-key batches per writer */

/* Rounds acknowledged per key, shared with the writer processes. */
struct acks {
	long key[WRITERS][KEYS];
	long batch[WRITERS][BATCHES];
};

static struct acks *acks;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int grep_log(const struct test_daemon *d, const char *what)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "grep -q -- '%s' '%s/kvshmd.log'", what,
		 d->dir);
	return system(cmd) == 0;
}

/* Values carry their key and round, so a value under the wrong key or a
 * torn one is caught. */
static int make_val(char *buf, size_t cap, const char *key, long round)
{
	return snprintf(buf, cap, "%s|%ld|%0*d", key, round, 40, 7);
}

static long parse_round(const char *key, const char *val, size_t vlen)
{
	char exp[128];
	long r;

	if (vlen >= sizeof(exp) || sscanf(val, "%*[^|]|%ld", &r) != 1)
		return -1;
	if (make_val(exp, sizeof(exp), key, r) != (int)vlen ||
	    memcmp(exp, val, vlen) != 0)
		return -1;
	return r;
}

static void writer(const char *name, int w, long base)
{
	kvshm_t *c;
	long round;

	if (kvshm_open(&c, name, NULL) != 0)
		_exit(1);
	for (round = base;; round++) {
		int k;

		for (k = 0; k < KEYS; k++) {
			char key[32], val[128];
			int n;

			snprintf(key, sizeof(key), "w%d-k%d", w, k);
			n = make_val(val, sizeof(val), key, round);
			if (kvshm_set(c, key, strlen(key), val, (size_t)n,
				      k % 4 == 0 ? 3600000 : 0, 0) != 0)
				_exit(0);
			acks->key[w][k] = round;
			if (k % 4 == 0) {
				char bk[3][32], bv[3][128];
				struct kvshm_kv kv[3];
				int b = k / 4, j;

				for (j = 0; j < 3; j++) {
					snprintf(bk[j], 32, "w%d-b%d-%d", w, b, j);
					kv[j] = (struct kvshm_kv){
						.key = bk[j], .klen = strlen(bk[j]),
						.val = bv[j],
						.vlen = (size_t)make_val(bv[j], 128,
									 bk[j], round),
					};
				}
				if (kvshm_mset(c, kv, 3) != 0)
					_exit(0);
				acks->batch[w][b] = round;
			}
		}
	}
}

static long get_round(kvshm_t *c, const char *key)
{
	char buf[256];
	size_t vlen = 0;
	int rc = kvshm_get(c, key, strlen(key), buf, sizeof(buf), &vlen);

	if (rc == KVSHM_ENOTFOUND)
		return 0;
	if (rc != 0)
		return -2;
	return parse_round(key, buf, vlen);
}

/* Every acknowledged write present, batches whole, TTLs kept. */
static void verify(const char *name, int cycle)
{
	int w, k, lost = 0, torn = 0, ttl_bad = 0;
	kvshm_t *c;

	if (kvshm_open(&c, name, NULL) != 0)
		bail_out("cannot attach after restart");
	for (w = 0; w < WRITERS; w++) {
		for (k = 0; k < KEYS; k++) {
			char key[32];
			long r;
			int64_t ttl = 0;

			snprintf(key, sizeof(key), "w%d-k%d", w, k);
			r = get_round(c, key);
			if (r < acks->key[w][k]) {
				if (!lost++)
					diag("%s: round %ld, acknowledged %ld",
					     key, r, acks->key[w][k]);
			}
			if (k % 4 == 0 && acks->key[w][k] > 0 &&
			    (kvshm_ttl(c, key, strlen(key), &ttl) != 0 ||
			     ttl <= 0 || ttl > 3600000))
				ttl_bad++;
		}
		for (k = 0; k < BATCHES; k++) {
			long r[3];
			int j;

			for (j = 0; j < 3; j++) {
				char key[32];

				snprintf(key, sizeof(key), "w%d-b%d-%d", w, k, j);
				r[j] = get_round(c, key);
			}
			if (r[0] < acks->batch[w][k])
				lost++;
			if (r[0] != r[1] || r[1] != r[2]) {
				if (!torn++)
					diag("batch w%d-b%d: rounds %ld %ld %ld",
					     w, k, r[0], r[1], r[2]);
			}
		}
	}
	kvshm_close(c);
	ok(lost == 0, "cycle %d: every acknowledged write survived the crash",
	   cycle);
	ok(torn == 0, "cycle %d: every batch is all or nothing", cycle);
	ok(ttl_bad == 0, "cycle %d: expiries survived", cycle);
}

static void crash_rounds(void)
{
	static const char *const args[] = {
		"--fsync", "always", "--wal-segment-size", "16K",
		"--snapshot-writes", "300", NULL,
	};
	struct test_daemon d;
	const char *env = getenv("KVSHM_TORTURE_SECS");
	int cycles = env ? atoi(env) + 3 : 3, cycle;
	long keys_before;
	kvshm_t *c;

	acks = mmap(NULL, sizeof(*acks), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (acks == MAP_FAILED)
		bail_out("mmap");
	memset(acks, 0, sizeof(*acks));
	srand((unsigned)getpid());
	start_kvshmd(&d, "dur", args);
	for (cycle = 1; cycle <= cycles; cycle++) {
		pid_t pids[WRITERS];
		int w;

		for (w = 0; w < WRITERS; w++) {
			pids[w] = fork();
			if (pids[w] == 0)
				writer(d.name, w, (long)cycle * 1000000);
		}
		sleep_ms(150 + rand() % 400);
		kill_kvshmd(&d);
		for (w = 0; w < WRITERS; w++)
			waitpid(pids[w], NULL, 0);
		restart_kvshmd(&d, args);
		verify(d.name, cycle);
	}
	if (kvshm_open(&c, d.name, NULL) != 0)
		bail_out("attach");
	keys_before = stat_of(c, "keys");
	kvshm_close(c);
	ok(term_kvshmd(&d) == 0, "a clean stop exits 0");
	restart_kvshmd(&d, args);
	if (kvshm_open(&c, d.name, NULL) != 0)
		bail_out("attach");
	ok(stat_of(c, "keys") == keys_before && keys_before > 0,
	   "a clean stop and start keeps all %ld keys", keys_before);
	kvshm_close(c);
	verify(d.name, 0);
	cleanup_kvshmd(&d);
	munmap(acks, sizeof(*acks));
}

/* Store @n keys "p-i" = "v-i" through one handle. */
static void fill(const char *name, const char *p, int n)
{
	kvshm_t *c;
	int i;

	if (kvshm_open(&c, name, NULL) != 0)
		bail_out("attach");
	for (i = 0; i < n; i++) {
		char k[32], v[32];

		snprintf(k, sizeof(k), "%s-%d", p, i);
		snprintf(v, sizeof(v), "v-%d", i);
		if (kvshm_set(c, k, strlen(k), v, strlen(v), 0, 0) != 0)
			bail_out("set %s", k);
	}
	kvshm_close(c);
}

static int count_present(const char *name, const char *p, int n)
{
	kvshm_t *c;
	int i, got = 0;

	if (kvshm_open(&c, name, NULL) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		char k[32], v[32], want[32];
		size_t vlen = 0;

		snprintf(k, sizeof(k), "%s-%d", p, i);
		snprintf(want, sizeof(want), "v-%d", i);
		if (kvshm_get(c, k, strlen(k), v, sizeof(v), &vlen) == 0 &&
		    vlen == strlen(want) && memcmp(v, want, vlen) == 0)
			got++;
	}
	kvshm_close(c);
	return got;
}

/* The newest file of @d's data dir matching @glob. */
static void newest(const struct test_daemon *d, const char *glob, char *out,
		   size_t cap)
{
	char cmd[600];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls %s/%s | sort | tail -1", d->dir, glob);
	f = popen(cmd, "r");
	if (!f || !fgets(out, (int)cap, f))
		bail_out("no %s in %s", glob, d->dir);
	pclose(f);
	out[strcspn(out, "\n")] = '\0';
}

/*
 * Where the records of WAL segment @path end (persist.h's format: each
 * record is "KWAL", its payload length, ... and 8-byte aligned). A
 * segment kvshmd was killed with is preallocated: zeros follow.
 */
static long records_end(const char *path)
{
	unsigned char h[8];
	long off = 32;			/* the segment header */
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		bail_out("open %s", path);
	while (pread(fd, h, 8, off) == 8 && memcmp(h, "KWAL", 4) == 0) {
		uint32_t len = h[4] | h[5] << 8 | h[6] << 16 |
			       (uint32_t)h[7] << 24;

		off += 32 + (long)((len + 7) & ~7U);
	}
	close(fd);
	return off;
}

/* Start kvshmd @name, write 100 keys "@prefix...", SIGKILL it. */
static void killed_after_fill(struct test_daemon *d, const char *name,
			      const char *prefix)
{
	start_kvshmd(d, name, NULL);
	fill(d->name, prefix, 100);
	kill_kvshmd(d);
}

/*
 * Add the WAL segment a killed kvshmd would leave if it died between
 * creating its next segment and writing the header: named for the LSN
 * after the last record, 64 KiB of zeros (with byte @nonzero_at set to 1
 * if not 0). Its path goes to @path.
 */
static void unborn_segment(const struct test_daemon *d, char *path,
			   size_t cap, long nonzero_at)
{
	char cmd[900], line[600];
	unsigned long long next = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s check-wal '%s'",
		 build_path("tools/kvshmctl"), d->dir);
	f = popen(cmd, "r");
	while (f && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "next_lsn=");

		if (p)
			next = strtoull(p + 9, NULL, 10);
	}
	if (f)
		pclose(f);
	if (next < 2)
		bail_out("no next LSN from %s", cmd);
	snprintf(path, cap, "%s/wal-%016llx.log", d->dir, next);
	snprintf(cmd, sizeof(cmd), "truncate -s 64K '%s'", path);
	if (system(cmd) != 0)
		bail_out("truncate");
	if (nonzero_at) {
		snprintf(cmd, sizeof(cmd), "printf '\\001' | dd of='%s' bs=1 "
			 "seek=%ld conv=notrunc 2>/dev/null", path, nonzero_at);
		if (system(cmd) != 0)
			bail_out("dd");
	}
}

/*
 * Damage snapshot @path in its middle, so that it really is damaged: LZ4
 * can spell the same content more than one way (a match may point at
 * any earlier copy of the same bytes, and these values repeat), so a
 * flipped byte can leave the content, and its checksum, intact. Flip
 * from the middle on until kvshmctl check-snapshot calls the file bad.
 * Return the offset flipped.
 */
static long damage_snapshot(const char *path)
{
	char cmd[600];
	struct stat st;
	long off;

	if (stat(path, &st) < 0)
		bail_out("stat %s", path);
	snprintf(cmd, sizeof(cmd), "%s check-snapshot '%s' >/dev/null 2>&1",
		 build_path("tools/kvshmctl"), path);
	for (off = (long)st.st_size / 2; off < (long)st.st_size; off++) {
		flip_byte(path, off);
		if (system(cmd) != 0)
			return off;
		flip_byte(path, off);		/* harmless: put it back */
	}
	bail_out("no byte of %s damages it", path);
}

static void damage_cases(void)
{
	static const char *const keep2[] = { "--snapshot-keep", "2", NULL };
	static const char *const small[] = {
		"--snapshot-keep", "1", "--wal-segment-size", "4K", NULL,
	};
	struct test_daemon d;
	char path[400], cmd[800];
	kvshm_t *c;
	struct stat st;
	long end;
	int rc;

	/* Garbage appended to the WAL: truncated, logged, nothing lost. */
	killed_after_fill(&d, "tail", "a");
	newest(&d, "wal-*.log", path, sizeof(path));
	end = records_end(path);
	if (stat(path, &st) < 0)
		bail_out("stat %s", path);
	ok(end > 32 && st.st_size > end,
	   "a killed kvshmd leaves its WAL segment preallocated past the "
	   "records (%ld of %lld bytes used)", end, (long long)st.st_size);
	restart_kvshmd(&d, NULL);
	ok(count_present(d.name, "a", 100) == 100 &&
	   grep_log(&d, "event=wal_prealloc_cut") &&
	   !grep_log(&d, "event=wal_truncated") &&
	   stat(path, &st) == 0 && st.st_size == end,
	   "its zero tail is cut at start, logged, not called damage; no key "
	   "lost");
	cleanup_kvshmd(&d);

	/*
	 * Killed between creating the next segment (preallocated: zeros)
	 * and writing its header: that empty newest segment is removed,
	 * logged; nothing lost. The same with one byte that is not zero
	 * is damage, and stops the start.
	 */
	killed_after_fill(&d, "unborn", "a");
	unborn_segment(&d, path, sizeof(path), 0);
	restart_kvshmd(&d, NULL);
	ok(count_present(d.name, "a", 100) == 100 &&
	   grep_log(&d, "created, never written"),
	   "a newest WAL segment of zeros (created, never written) is "
	   "removed at start, logged; no key lost");
	cleanup_kvshmd(&d);
	killed_after_fill(&d, "unborn1", "a");
	unborn_segment(&d, path, sizeof(path), 5000);
	rc = try_restart_kvshmd(&d, NULL);
	ok(rc != 0 && grep_log(&d, "event=recovery_failed") &&
	   grep_log(&d, strrchr(path, '/') + 1),
	   "with one byte that is not zero it is damage: the start stops "
	   "(exit %d), naming the file", rc);
	cleanup_kvshmd(&d);

	/* A record cut short, zeros after it: truncated, nothing lost. */
	killed_after_fill(&d, "torn0", "a");
	newest(&d, "wal-*.log", path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "head -c 100 /dev/urandom | dd of='%s' bs=1 "
		 "seek=%ld conv=notrunc 2>/dev/null", path, records_end(path));
	if (system(cmd) != 0)
		bail_out("dd");
	restart_kvshmd(&d, NULL);
	ok(count_present(d.name, "a", 100) == 100 &&
	   grep_log(&d, "event=wal_truncated"),
	   "a torn record before the zero tail is truncated, logged; no key "
	   "lost");
	cleanup_kvshmd(&d);

	/* The same segment, finished (as by rotation or a clean stop, or
	 * appended to where it cannot be preallocated), plus garbage. */
	killed_after_fill(&d, "garbage", "a");
	newest(&d, "wal-*.log", path, sizeof(path));
	if (truncate(path, records_end(path)) < 0)
		bail_out("truncate %s", path);
	snprintf(cmd, sizeof(cmd), "head -c 333 /dev/urandom >> '%s'", path);
	if (system(cmd) != 0)
		bail_out("append");
	restart_kvshmd(&d, NULL);
	ok(count_present(d.name, "a", 100) == 100 &&
	   grep_log(&d, "event=wal_truncated") &&
	   grep_log(&d, "bytes_dropped=333"),
	   "garbage after the WAL is truncated (333 bytes logged), no key lost");
	cleanup_kvshmd(&d);

	/* A flipped byte in the middle of the WAL: refuse, name the file. */
	killed_after_fill(&d, "flip", "b");
	newest(&d, "wal-*.log", path, sizeof(path));
	flip_byte(path, records_end(path) / 2);
	rc = try_restart_kvshmd(&d, NULL);
	ok(rc != 0 && grep_log(&d, "event=recovery_failed") &&
	   grep_log(&d, strrchr(path, '/') + 1),
	   "a flipped byte inside the WAL stops the start (exit %d), naming "
	   "the file", rc);
	cleanup_kvshmd(&d);

	/* A corrupt newest snapshot: the one before it plus the WAL. */
	start_kvshmd(&d, "snapfb", keep2);
	fill(d.name, "c", 50);
	if (kvshm_open(&c, d.name, NULL) != 0 || kvshm_snapshot(c, NULL) != 0)
		bail_out("snapshot 1");
	kvshm_close(c);
	fill(d.name, "e", 50);
	if (kvshm_open(&c, d.name, NULL) != 0 || kvshm_snapshot(c, NULL) != 0)
		bail_out("snapshot 2");
	kvshm_close(c);
	fill(d.name, "f", 50);
	kill_kvshmd(&d);
	newest(&d, "snap-*.lz4", path, sizeof(path));
	damage_snapshot(path);
	restart_kvshmd(&d, keep2);
	{
		int nc = count_present(d.name, "c", 50);
		int ne = count_present(d.name, "e", 50);
		int nf = count_present(d.name, "f", 50);
		int logged = grep_log(&d, "event=snapshot_corrupt");

		if (!ok(nc == 50 && ne == 50 && nf == 50 && logged,
			"a corrupt newest snapshot falls back to the previous one "
			"and the WAL: all 150 keys")) {
			diag("present: c %d, e %d, f %d; corrupt logged: %d; "
			     "flipped %s", nc, ne, nf, logged, path);
			snprintf(cmd, sizeof(cmd), "ls -l '%s' | sed 's/^/# /'; "
				 "sed 's/^/# /' '%s/kvshmd.log'", d.dir, d.dir);
			if (system(cmd) != 0)
				diag("could not list %s", d.dir);
		}
	}
	cleanup_kvshmd(&d);

	/* A cut snapshot whose WAL was trimmed: no consistent state. */
	start_kvshmd(&d, "snapcut", small);
	fill(d.name, "g", 300);
	if (kvshm_open(&c, d.name, NULL) != 0 || kvshm_snapshot(c, NULL) != 0)
		bail_out("snapshot");
	kvshm_close(c);
	kill_kvshmd(&d);
	newest(&d, "snap-*.lz4", path, sizeof(path));
	if (stat(path, &st) < 0 || truncate(path, st.st_size - 10) < 0)
		bail_out("truncate %s", path);
	rc = try_restart_kvshmd(&d, small);
	ok(rc != 0 && grep_log(&d, "snapshot_corrupt") &&
	   grep_log(&d, "event=recovery_failed"),
	   "a cut snapshot with its WAL trimmed stops the start (exit %d)", rc);
	cleanup_kvshmd(&d);
}

#define BIG_KEYS	4000
#define BIG_VAL		1000

static void big_val(char *v, int i)
{
	int j;

	for (j = 0; j < BIG_VAL; j++)
		v[j] = (char)('a' + (i * 31 + j) % 26);
}

/* Kilobytes of kvshmd @pid's resident memory mapped from "wal-*.log". */
static long wal_map_rss_kb(pid_t pid)
{
	char path[64], line[512];
	long kb = -1;
	int in_wal = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* A mapping's line starts with its address (lower-case hex),
		 * its fields with a capitalised name. */
		if (!(line[0] >= 'A' && line[0] <= 'Z'))
			in_wal = strstr(line, "/wal-") != NULL;
		else if (in_wal && strncmp(line, "Rss:", 4) == 0)
			kb = (kb < 0 ? 0 : kb) + atol(line + 4);
	}
	fclose(f);
	return kb;
}

static void big_wal_case(void)
{
	static const char *const args[] = {
		"--wal-segment-size", "16M", "--snapshot-writes", "0",
		"--snapshot-on-stop", "no", NULL,
	};
	struct test_daemon d;
	char path[400], k[32], v[BIG_VAL], got[BIG_VAL];
	kvshm_t *c;
	long rss, end;
	int i, n = 0;

	start_kvshmd(&d, "bigwal", args);
	if (kvshm_open(&c, d.name, NULL) != 0)
		bail_out("attach");
	for (i = 0; i < BIG_KEYS; i++) {
		snprintf(k, sizeof(k), "big-%d", i);
		big_val(v, i);
		if (kvshm_set(c, k, strlen(k), v, BIG_VAL, 0, 0) != 0)
			bail_out("set %s", k);
	}
	kvshm_close(c);
	rss = wal_map_rss_kb(d.pid);
	newest(&d, "wal-*.log", path, sizeof(path));
	end = records_end(path);
	ok(end > 4000000 && rss >= 0 && rss < 1024,
	   "%ld bytes of records in one mapped WAL segment; %ld KiB of it "
	   "resident in kvshmd (written pages are unmapped)", end, rss);
	kill_kvshmd(&d);
	restart_kvshmd(&d, args);
	if (kvshm_open(&c, d.name, NULL) != 0)
		bail_out("attach");
	for (i = 0; i < BIG_KEYS; i++) {
		size_t len = 0;

		snprintf(k, sizeof(k), "big-%d", i);
		big_val(v, i);
		if (kvshm_get(c, k, strlen(k), got, sizeof(got), &len) == 0 &&
		    len == BIG_VAL && memcmp(got, v, BIG_VAL) == 0)
			n++;
	}
	kvshm_close(c);
	ok(n == BIG_KEYS && grep_log(&d, "snapshot=none snapshot_keys=0 "
				     "snapshot_parts=0 load_threads=0 "
				     "wal_records=4000 "),
	   "after a SIGKILL every one of %d 1000-byte values is back from "
	   "the WAL (%d)", BIG_KEYS, n);
	cleanup_kvshmd(&d);
}

static void wal_fallback_case(void)
{
	static const char *const args[] = {
		"--wal-segment-size", "4K", "--snapshot-writes", "0", NULL,
	};
	struct test_daemon d;
	char path[400], cmd[600];
	struct stat st;
	long end;
	int n;

	test_fault_env("fallocate");
	start_kvshmd(&d, "walwrite", args);
	test_fault_env(NULL);
	fill(d.name, "w", 300);
	kill_kvshmd(&d);
	snprintf(cmd, sizeof(cmd), "test $(ls %s/wal-*.log | wc -l) -ge 3",
		 d.dir);
	n = system(cmd);
	newest(&d, "wal-*.log", path, sizeof(path));
	end = records_end(path);
	ok(grep_log(&d, "kvshm-fault: fallocate injected") &&
	   grep_log(&d, "event=wal_prealloc_failed") && n == 0 &&
	   stat(path, &st) == 0 && st.st_size == end,
	   "fallocate refused: kvshmd logs wal_prealloc_failed and appends "
	   "with write(2), over 3 or more segments, with no zero tail "
	   "(%ld bytes)", end);
	restart_kvshmd(&d, args);
	ok(count_present(d.name, "w", 300) == 300 &&
	   !grep_log(&d, "event=wal_truncated"),
	   "after a SIGKILL every key written that way is back");
	cleanup_kvshmd(&d);
}

int main(void)
{
	const char *env = getenv("KVSHM_TORTURE_SECS");
	int cycles = env ? atoi(env) + 3 : 3;

	plan_tests(cycles * 3 + 2 + 3 + 3 + 4 + 2 + 2 + 2);
	crash_rounds();
	damage_cases();
	wal_fallback_case();
	big_wal_case();
	return exit_status();
}
