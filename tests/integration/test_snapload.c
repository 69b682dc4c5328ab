// SPDX-License-Identifier: MIT
/*
 * integration/test_snapload.c - snapshots of several parts, loaded on
 * several threads at start-up.
 *
 *  1. A snapshot of a 16-shard table has 16 parts, every one holding
 *     keys; a restart with --load-threads 2 loads it in parallel and every
 *     key comes back with its value, expiry and version.
 *  2. A flipped byte in the last part: kvshmctl check-snapshot names the
 *     part; recovery refuses the snapshot (logging the file and why),
 *     falls back to the previous one plus the WAL, and the table holds
 *     exactly the right keys and values: nothing of the bad part stays.
 *  3. A format 1 snapshot (one LZ4 frame, as kvshm wrote before parts)
 *     still loads.
 *  4. A snapshot whose keys carry no expiry: the expiry index starts
 *     empty (kvshmd skips its walk of the table), every value is back,
 *     values of 40 kB to 1 MiB included (the loader writes items through
 *     a 64 KiB buffer), and a TTL set after the restart is still swept.
 *  5. The loader's writes into the data segment fail (tests/lib/fault.c),
 *     from the first one or after a few: it builds the items through
 *     the mapping instead, and every key is back as in 1.
 *
 * Nothing here depends on timing: expiries are an hour away and compared
 * as absolute times (the sweep in 4 is waited for, without a deadline
 * shorter than the harness's).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lz4frame.h>
#include <kvshm.h>

#include "hash.h"
#include "persist.h"
#include "../lib/daemon.h"
#include "../lib/files.h"
#include "../tap.h"

#define NKEYS	3000
#define HOUR_MS	3600000

/* What each key should hold; version and expiry as last read. */
struct want {
	char val[64];
	int present;
	uint64_t version;
	int64_t expire_ms;
};

static struct want want[NKEYS];

static int key_of(int i, char *k)
{
	return snprintf(k, 32, "key:%06d", i);
}

static void set_key(kvshm_t *c, int i, int gen)
{
	char k[32];
	int kl = key_of(i, k), vl;

	vl = snprintf(want[i].val, sizeof(want[i].val), "value %d gen %d %x", i,
		      gen, (unsigned)(i * 2654435761U + (unsigned)gen));
	if (kvshm_set(c, k, (size_t)kl, want[i].val, (size_t)vl,
		      i % 3 == 0 ? HOUR_MS : 0, 0) != 0)
		bail_out("set %s", k);
	want[i].present = 1;
}

static void del_key(kvshm_t *c, int i)
{
	char k[32];
	int kl = key_of(i, k);

	if (kvshm_del(c, k, (size_t)kl) != 0)
		bail_out("del %s", k);
	want[i].present = 0;
}

/* Stop kvshmd and remove its snapshots and WAL. */
static void stop_and_clear(struct test_daemon *d)
{
	char cmd[1200];

	if (term_kvshmd(d) != 0)
		bail_out("stop");
	snprintf(cmd, sizeof(cmd), "rm -f %s/snap-*.lz4 %s/wal-*.log", d->dir,
		 d->dir);
	if (system(cmd) != 0)
		bail_out("rm");
}

/* Values around the loader's 64 KiB write buffer (kvd_exec_load_new). */
#define NBIG	5
static const size_t big_len[NBIG] = { 40000, 65536 - 16 - 5, 65536,
				      70000, 1U << 20 };

static char *big_value(int i)
{
	char *v = malloc(big_len[i]);
	size_t j;

	if (!v)
		bail_out("malloc");
	for (j = 0; j < big_len[i]; j++)
		v[j] = (char)('a' + (j * 7 + (size_t)i) % 26);
	return v;
}

/* Note every key's version and expiry as the daemon has them now. */
static void note_meta(kvshm_t *c)
{
	char k[32];
	int i;

	for (i = 0; i < NKEYS; i++) {
		struct kvshm_meta m = { .struct_size = sizeof(m) };

		if (!want[i].present)
			continue;
		if (kvshm_get_meta(c, k, (size_t)key_of(i, k), NULL, 0, &m) != 0)
			bail_out("get_meta %s", k);
		want[i].version = m.version;
		want[i].expire_ms = m.expire_ms;
	}
}

/* Note the keys' metadata, take a snapshot, close @c and stop kvshmd. */
static void snapshot_and_stop(kvshm_t *c, struct test_daemon *d,
			      uint64_t *lsn)
{
	note_meta(c);
	if (kvshm_snapshot(c, lsn) != 0)
		bail_out("snapshot");
	kvshm_close(c);
	if (term_kvshmd(d) != 0)
		bail_out("stop");
}

/*
 * Does every key hold what @want says (value, and with @meta its version
 * and absolute expiry), and no other key exist? Return the number wrong.
 */
static int check_keys(kvshm_t *c, int meta)
{
	int i, bad = 0, n = 0;
	char k[32], buf[128];

	for (i = 0; i < NKEYS; i++) {
		struct kvshm_meta m = { .struct_size = sizeof(m) };
		int rc = kvshm_get_meta(c, k, (size_t)key_of(i, k), buf,
					sizeof(buf), &m);

		if (!want[i].present) {
			bad += rc != KVSHM_ENOTFOUND;
			continue;
		}
		n++;
		if (rc != 0 || m.vlen != strlen(want[i].val) ||
		    memcmp(buf, want[i].val, m.vlen) != 0 ||
		    (meta && (m.version != want[i].version ||
			      m.expire_ms != want[i].expire_ms))) {
			if (!bad)
				diag("key %s: rc %d, %.*s", k, rc,
				     rc == 0 ? (int)m.vlen : 0, buf);
			bad++;
		}
	}
	if (stat_of(c, "keys") != n) {
		diag("%lld keys, %d expected", stat_of(c, "keys"), n);
		bad++;
	}
	return bad;
}

static int grep_log(const struct test_daemon *d, const char *what)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "grep -q -- '%s' '%s/kvshmd.log'", what,
		 d->dir);
	return system(cmd) == 0;
}

/* Run kvshmctl check-snapshot on @path; its stdout (and stderr) to @out. */
static int check_snapshot(const char *path, const char *out)
{
	char cmd[2400];

	snprintf(cmd, sizeof(cmd), "%s check-snapshot '%s' >'%s' 2>&1",
		 build_path("tools/kvshmctl"), path, out);
	return system(cmd);
}

static void snap_path(const struct test_daemon *d, uint64_t lsn, char *p,
		      size_t n)
{
	snprintf(p, n, "%s/snap-%016" PRIx64 ".lz4", d->dir, lsn);
}

/*
 * Damage the last part of snapshot @path: flip bytes from the middle of
 * that part on until check-snapshot calls it bad (LZ4 can spell the same
 * content more than one way, so a flip may change nothing).
 */
static void damage_last_part(const char *path, const char *out)
{
	unsigned long long off = 0, len = 0, o;
	char line[300];
	FILE *f;

	if (check_snapshot(path, out) != 0 || !(f = fopen(out, "r")))
		bail_out("check-snapshot %s", path);
	while (fgets(line, sizeof(line), f))
		sscanf(line, "part=16 offset=%llu bytes=%llu", &off, &len);
	fclose(f);
	if (!len)
		bail_out("no part 16 in %s", path);
	for (o = off + len / 2; o < off + len; o++) {
		flip_byte(path, (long)o);
		if (check_snapshot(path, out) != 0)
			return;
		flip_byte(path, (long)o);
	}
	bail_out("no byte of part 16 damages %s", path);
}

/*
 * Write a format 1 snapshot of every key @want holds (versions and
 * expiries as noted) at @path, as kvshm wrote them before parts: the
 * metadata frame (format 1, no part table), one LZ4 frame, the trailer.
 */
static void write_format1(const char *path, uint64_t lsn)
{
	const struct snap_v1 m = { .lsn = lsn, .version_hw = 1,
				   .created_ms = 1, .hash_seed = 0x5eed,
				   .nshards = 16 };
	size_t rlen = 0;
	char k[32], *raw;
	int i, n = 0;

	raw = malloc((size_t)NKEYS * 128);
	for (i = 0; i < NKEYS; i++) {
		struct kvp_ent e = { .op = KVP_OP_SET, .key = k,
				     .val = want[i].val };

		if (!want[i].present)
			continue;
		e.klen = (size_t)key_of(i, k);
		e.vlen = strlen(want[i].val);
		e.expire_ms = want[i].expire_ms;
		e.version = want[i].version;
		rlen += kvp_ent_put(raw + rlen, &e);
		n++;
	}
	write_snapshot_v1(path, &m, raw, rlen, (uint64_t)n);
	free(raw);
}

int main(void)
{
	static const char *const args[] = {
		"--shards", "16", "--snapshot-keep", "2",
		"--snapshot-on-stop", "no", "--load-threads", "2", NULL,
	};
	char path[600], out[600], cmd[2048];
	struct test_daemon d;
	uint64_t lsn1, lsn2;
	kvshm_t *c;
	int i, n, parts_with_keys = 0;
	FILE *f;

	plan_tests(14);
	start_kvshmd(&d, "snapload", args);
	snprintf(out, sizeof(out), "%s/check.out", d.dir);
	if (kvshm_open(&c, d.name, NULL) != 0)
		bail_out("open");
	for (i = 0; i < NKEYS; i++)
		set_key(c, i, 1);
	snapshot_and_stop(c, &d, &lsn1);

	/* 1. Parts, and a parallel load of them. */
	snap_path(&d, lsn1, path, sizeof(path));
	if (check_snapshot(path, out) == 0 && (f = fopen(out, "r"))) {
		char line[300];
		unsigned long long k;

		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "part=%*u offset=%*u bytes=%*u keys=%llu",
				   &k) == 1 && k > 0)
				parts_with_keys++;
		fclose(f);
	}
	ok(parts_with_keys == 16, "a snapshot of 16 shards has 16 parts, "
	   "%d of them holding keys", parts_with_keys);
	restart_kvshmd(&d, args);
	if (kvshm_open(&c, d.name, NULL) != 0)
		bail_out("open");
	ok(grep_log(&d, "snapshot_parts=16 load_threads=2"),
	   "kvshmd loads the 16 parts on 2 threads");
	ok(check_keys(c, 1) == 0, "every key is back with its value, expiry "
	   "and version");
	ok(stat_of(c, "expiry_index_entries") == (NKEYS + 2) / 3,
	   "the expiry index holds the %d loaded expiries (%lld)",
	   (NKEYS + 2) / 3, stat_of(c, "expiry_index_entries"));

	/* 5. The same snapshot, its writes into the segment failing. */
	for (i = 0; i < 2; i++) {
		static const char *const mode[] = { "shm-pwrite:0",
						    "shm-pwrite:3" };
		char marker[64];

		kvshm_close(c);
		if (term_kvshmd(&d) != 0)
			bail_out("stop");
		test_fault_env(mode[i]);
		restart_kvshmd(&d, args);
		test_fault_env(NULL);
		if (kvshm_open(&c, d.name, NULL) != 0)
			bail_out("open");
		snprintf(marker, sizeof(marker), "kvshm-fault: %s injected",
			 mode[i]);
		ok(grep_log(&d, marker) && check_keys(c, 1) == 0,
		   "with %s of its writes into the segment failing, the loader "
		   "fills the items through the mapping: every key is back "
		   "with its value, expiry and version",
		   i ? "all but the first 3" : "every one");
	}
	/* The rest runs without the fault library. */
	kvshm_close(c);
	if (term_kvshmd(&d) != 0)
		bail_out("stop");
	restart_kvshmd(&d, args);
	if (kvshm_open(&c, d.name, NULL) != 0)
		bail_out("open");

	/* 2. A bad last part: the previous snapshot plus the WAL. */
	for (i = 0; i < NKEYS; i += 5)
		set_key(c, i, 2);
	for (i = 1; i < NKEYS; i += 7)
		del_key(c, i);
	if (kvshm_snapshot(c, &lsn2) != 0 || lsn2 <= lsn1)
		bail_out("snapshot 2");
	for (i = 2; i < NKEYS; i += 11)
		set_key(c, i, 3);
	kvshm_close(c);
	if (term_kvshmd(&d) != 0)
		bail_out("stop");
	snap_path(&d, lsn2, path, sizeof(path));
	damage_last_part(path, out);
	snprintf(cmd, sizeof(cmd), "grep -q 'part 16 of 16' '%s'", out);
	ok(system(cmd) == 0, "check-snapshot refuses a flipped byte in the "
	   "last part, naming the part");
	restart_kvshmd(&d, args);
	if (kvshm_open(&c, d.name, NULL) != 0)
		bail_out("open");
	snprintf(cmd, sizeof(cmd), "event=snapshot_corrupt file=%s reason=\"part "
		 "16 of 16", path);
	ok(grep_log(&d, cmd) && grep_log(&d, "action=try_older_snapshot"),
	   "recovery refuses it, naming the file and the part, and falls "
	   "back to the previous snapshot");
	ok(check_keys(c, 0) == 0, "after the fallback every key holds the "
	   "right value and no key is extra");
	note_meta(c);
	kvshm_close(c);

	/* 3. A format 1 snapshot, alone in the directory. */
	stop_and_clear(&d);
	snap_path(&d, 5, path, sizeof(path));
	write_format1(path, 5);
	if (check_snapshot(path, out) != 0)
		bail_out("check-snapshot of the format 1 file");
	restart_kvshmd(&d, args);
	if (kvshm_open(&c, d.name, NULL) != 0)
		bail_out("open");
	ok(grep_log(&d, "snapshot_parts=1 "), "a format 1 snapshot loads, "
	   "as one part");
	ok(check_keys(c, 1) == 0, "with every key's value, expiry and version");
	kvshm_close(c);

	/* 4. No key with an expiry: no walk, and the sweep still works. */
	stop_and_clear(&d);
	restart_kvshmd(&d, args);
	if (kvshm_open(&c, d.name, NULL) != 0)
		bail_out("open");
	for (i = 0; i < NKEYS; i++) {
		char k[32];
		int kl = key_of(i, k);

		snprintf(want[i].val, sizeof(want[i].val), "plain %d", i);
		if (kvshm_set(c, k, (size_t)kl, want[i].val,
			      strlen(want[i].val), 0, 0) != 0)
			bail_out("set %s", k);
		want[i].present = 1;
	}
	for (i = 0; i < NBIG; i++) {
		char k[32], *v = big_value(i);

		snprintf(k, sizeof(k), "big:%d", i);
		if (kvshm_set(c, k, strlen(k), v, big_len[i], 0, 0) != 0)
			bail_out("set %s", k);
		free(v);
	}
	snapshot_and_stop(c, &d, &lsn1);
	restart_kvshmd(&d, args);
	if (kvshm_open(&c, d.name, NULL) != 0)
		bail_out("open");
	for (i = 0, n = 0; i < NBIG; i++) {
		char k[32], *v = big_value(i);
		void *got = NULL;
		size_t len = 0;

		snprintf(k, sizeof(k), "big:%d", i);
		if (kvshm_get_alloc(c, k, strlen(k), &got, &len) == 0 &&
		    len == big_len[i] && memcmp(got, v, len) == 0)
			n++;
		free(got);
		free(v);
		if (kvshm_del(c, k, strlen(k)) != 0)
			bail_out("del %s", k);
	}
	ok(n == NBIG, "values of 40 kB to 1 MiB, around the loader's 64 KiB "
	   "write buffer, are back byte for byte (%d of %d)", n, NBIG);
	ok(check_keys(c, 1) == 0 && stat_of(c, "expiry_index_entries") == 0,
	   "a snapshot without expiries loads whole, the expiry index empty");
	i = (int)stat_of(c, "expirations");
	if (kvshm_set(c, "brief", 5, "v", 1, 100, 0) != 0)
		bail_out("set brief");
	ok(stat_of(c, "expiry_index_entries") == 1 &&
	   wait_stat(c, "expirations", i + 1) &&
	   kvshm_exists(c, "brief", 5) == KVSHM_ENOTFOUND,
	   "a TTL set after that restart is indexed and swept");
	kvshm_close(c);
	stop_kvshmd(&d);
	cleanup_kvshmd(&d);
	return exit_status();
}
