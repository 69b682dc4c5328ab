// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_batch.c - kvshm_batch(): puts, puts with TTL and
 * deletes applied all or nothing, their conditions, request-order
 * semantics for a key named twice, every documented error (with the index
 * of the failing operation), the --max-entries and memory limits, and
 * concurrency: transfers between two keys by version-checked batches from
 * 4 processes lose nothing, and readers never see a torn value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../lib/kv.h"
#include "../tap.h"

#define S(x) x, strlen(x)
#define PUT(k, v, t) { KVSHM_BATCH_PUT, 0, k, sizeof(k) - 1, v, sizeof(v) - 1, t, 0 }
#define PUTF(k, v, f, ver) { KVSHM_BATCH_PUT, f, k, sizeof(k) - 1, v, sizeof(v) - 1, 0, ver }
#define DEL(k) { KVSHM_BATCH_DEL, 0, k, sizeof(k) - 1, NULL, 0, 0, 0 }
#define DELF(k, f, ver) { KVSHM_BATCH_DEL, f, k, sizeof(k) - 1, NULL, 0, 0, ver }
#define N(a) (sizeof(a) / sizeof((a)[0]))

#define NR_PROCS	4
#define NR_MOVES	250
#define START		1000000L
#define NR_GEN		2000
#define NR_TORN_KEYS	8

/* Read a decimal value and its version. */
static int read_num(kvshm_t *c, const char *key, long *v, uint64_t *ver)
{
	struct kvshm_meta m = { .struct_size = sizeof(m) };
	char buf[32];
	int rc;

	rc = kvshm_get_meta(c, key, strlen(key), buf, sizeof(buf) - 1, &m);
	if (rc)
		return rc;
	buf[m.vlen] = '\0';
	*v = strtol(buf, NULL, 10);
	*ver = m.version;
	return 0;
}

/*
 * One child: move 1 from "x" to "y" NR_MOVES times, each a batch of two
 * puts, each conditional on the version read. Exit 0 if every failure was
 * KVSHM_ECHANGED on one of the two ops.
 */
static int mover_main(const char *name)
{
	char xs[32], ys[32];
	int done = 0, rc;
	kvshm_t *c;

	if (kvshm_open(&c, name, NULL))
		return 1;
	while (done < NR_MOVES) {
		struct kvshm_batch_op ops[2] = {
			{ KVSHM_BATCH_PUT, KVSHM_IFVERSION, "x", 1, xs, 0, 0, 0 },
			{ KVSHM_BATCH_PUT, KVSHM_IFVERSION, "y", 1, ys, 0, 0, 0 },
		};
		long x, y;
		size_t failed;

		if (read_num(c, "x", &x, &ops[0].version) ||
		    read_num(c, "y", &y, &ops[1].version))
			return 1;
		ops[0].vlen = (size_t)snprintf(xs, sizeof(xs), "%ld", x - 1);
		ops[1].vlen = (size_t)snprintf(ys, sizeof(ys), "%ld", y + 1);
		rc = kvshm_batch(c, ops, 2, &failed);
		if (rc == 0)
			done++;
		else if (rc != KVSHM_ECHANGED || failed > 1)
			return 1;
	}
	kvshm_close(c);
	return 0;
}

/*
 * A value of generation g for key i: "g:i:" then filler up to a length
 * that depends on g, so a torn or mixed copy cannot pass value_ok().
 */
static size_t make_value(char *buf, long g, int i)
{
	size_t n = (size_t)sprintf(buf, "%ld:%d:", g, i);
	size_t len = n + (size_t)(g % 97);

	memset(buf + n, 'a' + (int)(g % 26), len - n);
	return len;
}

static long value_ok(const char *v, size_t len, int i)
{
	char want[256];
	long g = strtol(v, NULL, 10);

	if (g < 0 || g > NR_GEN || make_value(want, g, i) != len ||
	    memcmp(want, v, len) != 0)
		return -1;
	return g;
}

/* The writer: NR_GEN batches, each putting generation g on every key. */
static int gen_writer_main(const char *name)
{
	struct kvshm_batch_op ops[NR_TORN_KEYS];
	char keys[NR_TORN_KEYS][8], vals[NR_TORN_KEYS][256];
	kvshm_t *c;
	long g;
	int i;

	if (kvshm_open(&c, name, NULL))
		return 1;
	for (g = 1; g <= NR_GEN; g++) {
		for (i = 0; i < NR_TORN_KEYS; i++) {
			memset(&ops[i], 0, sizeof(ops[i]));
			ops[i].op = KVSHM_BATCH_PUT;
			ops[i].key = keys[i];
			ops[i].klen = (size_t)sprintf(keys[i], "g%d", i);
			ops[i].val = vals[i];
			ops[i].vlen = make_value(vals[i], g, i);
		}
		if (kvshm_batch(c, ops, NR_TORN_KEYS, NULL))
			return 1;
		/* Once the batch returned, all of it is visible. */
		for (i = 0; i < NR_TORN_KEYS; i++) {
			char buf[256];
			size_t n;

			if (kvshm_get(c, keys[i], strlen(keys[i]), buf,
				      sizeof(buf), &n) ||
			    value_ok(buf, n, i) != g)
				return 2;
		}
	}
	kvshm_close(c);
	return 0;
}

/*
 * A reader: until the writer is done, read every key; each value must be
 * whole, and no key may go back to an older generation.
 */
static int gen_reader_main(const char *name)
{
	long last[NR_TORN_KEYS] = { 0 };
	kvshm_t *c;
	int i;

	if (kvshm_open(&c, name, NULL))
		return 1;
	while (kv_absent(c, "gen-done")) {
		for (i = 0; i < NR_TORN_KEYS; i++) {
			char key[8], buf[256];
			size_t n;
			long g;
			int rc;

			sprintf(key, "g%d", i);
			rc = kvshm_get(c, key, strlen(key), buf, sizeof(buf), &n);
			if (rc == KVSHM_ENOTFOUND && last[i] == 0)
				continue;
			if (rc || (g = value_ok(buf, n, i)) < 0 || g < last[i])
				return 1;
			last[i] = g;
		}
	}
	kvshm_close(c);
	return 0;
}

static int wait_ok(pid_t pid)
{
	int st;

	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	       WEXITSTATUS(st) == 0;
}

int main(void)
{
	static const char *const args[] = { "--memory", "8M", "--max-key", "32",
					     "--max-value", "65536",
					     "--max-entries", "1000", NULL };
	struct kvshm_batch_op mixed[] = { PUT("a", "1", 0), PUT("b", "2", 86400000),
					  DEL("c"), DEL("never") };
	struct kvshm_batch_op nx[] = { PUT("n1", "x", 0), PUTF("a", "y", KVSHM_NX, 0) };
	struct kvshm_batch_op xx[] = { PUT("n1", "x", 0), PUTF("nope", "y", KVSHM_XX, 0) };
	struct kvshm_batch_op xxdel[] = { PUT("n1", "x", 0), DELF("nope", KVSHM_XX, 0) };
	struct kvshm_batch_op dup1[] = { PUT("d", "1", 0), PUT("d", "2", 0) };
	struct kvshm_batch_op dup2[] = { PUT("d", "3", 0), DEL("d") };
	struct kvshm_batch_op dup3[] = { DEL("a"), PUTF("a", "again", KVSHM_NX, 0) };
	struct kvshm_batch_op dup4[] = { PUT("e", "1", 0), PUTF("e", "2", KVSHM_NX, 0) };
	struct kvshm_batch_op dup5[] = { PUT("e", "1", 0), PUTF("e", "2", KVSHM_XX, 0) };
	struct kvshm_batch_op ver[2], bad[2], huge[3], lim[3];
	char key[40], vals[3][60000], bigkeys[1000][16];
	struct kvshm_batch_op *many;
	struct test_daemon d;
	size_t failed = 99;
	long long keys0, b0;
	uint64_t va, vb;
	int64_t ttl;
	pid_t pid[NR_PROCS + 2];
	long x, y;
	kvshm_t *c;
	int i, all;

	plan_tests(53);
	start_kvshmd(&d, "batch", args);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot open");
	b0 = stat_of(c, "cmd_batch");

	/* What a batch does. */
	kvshm_set(c, S("c"), S("doomed"), 0, 0);
	ok(kvshm_batch(c, mixed, N(mixed), &failed) == 0 && failed == N(mixed),
	   "a batch of puts, a put with TTL and deletes succeeds, failed = n");
	ok(kv_has(c, "a", "1") && kv_has(c, "b", "2") && kv_absent(c, "c"),
	   "its puts are stored and its delete applied");
	ok(kvshm_ttl(c, S("b"), &ttl) == 0 && ttl > 0 && ttl <= 86400000 &&
	   kvshm_ttl(c, S("a"), &ttl) == 0 && ttl == -1,
	   "each put has its own TTL");
	ok(kv_absent(c, "never"), "deleting an absent key is no error");
	va = kv_version(c, "a");
	vb = kv_version(c, "b");
	ok(va && vb && va != vb, "each put got a version of its own");
	ok(stat_of(c, "cmd_batch") == b0 + 1, "stats count cmd_batch");

	/* Conditions: the whole batch fails, failed names the op. */
	keys0 = stat_of(c, "keys");
	ok(kvshm_batch(c, nx, 2, &failed) == KVSHM_EEXISTS && failed == 1 &&
	   kv_absent(c, "n1") && kv_has(c, "a", "1"),
	   "KVSHM_NX on a present key: KVSHM_EEXISTS, failed = 1, nothing stored");
	ok(kvshm_batch(c, xx, 2, &failed) == KVSHM_ENOTFOUND && failed == 1 &&
	   kv_absent(c, "n1") && kv_absent(c, "nope"),
	   "KVSHM_XX put on an absent key: KVSHM_ENOTFOUND, nothing stored");
	ok(kvshm_batch(c, xxdel, 2, &failed) == KVSHM_ENOTFOUND && failed == 1 &&
	   kv_absent(c, "n1"), "KVSHM_XX delete of an absent key: KVSHM_ENOTFOUND");
	ok(stat_of(c, "keys") == keys0, "failed batches changed no key count");

	memset(ver, 0, sizeof(ver));
	ver[0] = (struct kvshm_batch_op)PUTF("a", "va2", KVSHM_IFVERSION, va);
	ver[1] = (struct kvshm_batch_op)PUTF("b", "vb2", KVSHM_IFVERSION, vb - 1);
	ok(kvshm_batch(c, ver, 2, &failed) == KVSHM_ECHANGED && failed == 1 &&
	   kv_has(c, "a", "1") && kv_has(c, "b", "2"),
	   "a stale version: KVSHM_ECHANGED, failed = 1, the other op not applied");
	ver[1].version = vb;
	ok(kvshm_batch(c, ver, 2, &failed) == 0 && kv_has(c, "a", "va2") &&
	   kv_has(c, "b", "vb2"), "both versions current: both stored");
	ok(kv_version(c, "a") > va && kv_version(c, "b") > vb,
	   "and both keys have new versions");
	ver[0] = (struct kvshm_batch_op)PUTF("fresh", "f", KVSHM_IFVERSION, 0);
	ver[1] = (struct kvshm_batch_op)DELF("b", KVSHM_IFVERSION, kv_version(c, "b"));
	ok(kvshm_batch(c, ver, 2, &failed) == 0 && kv_has(c, "fresh", "f") &&
	   kv_absent(c, "b"), "version 0 stores an absent key; a versioned delete deletes");
	ver[0] = (struct kvshm_batch_op)PUTF("b", "x", KVSHM_IFVERSION, 7);
	ok(kvshm_batch(c, ver, 1, &failed) == KVSHM_ENOTFOUND && failed == 0 &&
	   kv_absent(c, "b"), "a version on an absent key: KVSHM_ENOTFOUND");
	ver[0] = (struct kvshm_batch_op)DELF("a", KVSHM_IFVERSION, 0);
	ok(kvshm_batch(c, ver, 1, &failed) == KVSHM_ECHANGED && kv_has(c, "a", "va2"),
	   "a delete with version 0 of a present key: KVSHM_ECHANGED");

	/* A key named twice: request order. */
	ok(kvshm_batch(c, dup1, 2, &failed) == 0 && kv_has(c, "d", "2"),
	   "put, put of one key: the last value wins");
	ok(kvshm_batch(c, dup2, 2, &failed) == 0 && kv_absent(c, "d"),
	   "put, delete of one key: the key ends deleted");
	ok(kvshm_batch(c, dup3, 2, &failed) == 0 && kv_has(c, "a", "again"),
	   "delete, then put NX of one key: the NX sees the delete, and stores");
	kvshm_del(c, S("e"));
	ok(kvshm_batch(c, dup4, 2, &failed) == KVSHM_EEXISTS && failed == 1 &&
	   kv_absent(c, "e"), "put, then put NX of an absent key: the NX sees the put, fails");
	ok(kvshm_batch(c, dup5, 2, &failed) == 0 && kv_has(c, "e", "2"),
	   "put, then put XX of an absent key: the XX sees the put, stores");
	ver[0] = (struct kvshm_batch_op)PUT("e", "3", 0);
	ver[1] = (struct kvshm_batch_op)PUTF("e", "4", KVSHM_IFVERSION, kv_version(c, "e"));
	ok(kvshm_batch(c, ver, 2, &failed) == KVSHM_ECHANGED && failed == 1 &&
	   kv_has(c, "e", "2"), "a version condition after a put of the same key fails");

	/* Bad operations: refused before anything is sent or applied. */
	memset(key, 'k', sizeof(key));
	memset(bad, 0, sizeof(bad));
	bad[0] = (struct kvshm_batch_op)PUT("ok1", "v", 0);
	bad[1] = (struct kvshm_batch_op){ KVSHM_BATCH_PUT, 0, key, 33, "v", 1, 0, 0 };
	ok(kvshm_batch(c, bad, 2, &failed) == KVSHM_ETOOBIG && failed == 1 &&
	   kv_absent(c, "ok1"), "an oversized key: KVSHM_ETOOBIG, failed = 1, nothing stored");
	bad[1] = (struct kvshm_batch_op){ KVSHM_BATCH_PUT, 0, "big", 3, vals[0], 65537, 0, 0 };
	ok(kvshm_batch(c, bad, 2, &failed) == KVSHM_ETOOBIG && failed == 1 &&
	   kv_absent(c, "ok1") && kv_absent(c, "big"),
	   "an oversized value: KVSHM_ETOOBIG, nothing stored");
	bad[1] = (struct kvshm_batch_op)PUT("neg", "v", -1);
	ok(kvshm_batch(c, bad, 2, &failed) == KVSHM_EINVAL && failed == 1,
	   "a negative TTL is KVSHM_EINVAL");
	bad[1] = (struct kvshm_batch_op){ 3, 0, "k", 1, NULL, 0, 0, 0 };
	ok(kvshm_batch(c, bad, 2, &failed) == KVSHM_EINVAL && failed == 1,
	   "an unknown op is KVSHM_EINVAL");
	bad[1] = (struct kvshm_batch_op)DELF("k", KVSHM_NX, 0);
	ok(kvshm_batch(c, bad, 2, &failed) == KVSHM_EINVAL && failed == 1,
	   "KVSHM_NX on a delete is KVSHM_EINVAL");
	bad[1] = (struct kvshm_batch_op)PUTF("k", "v", KVSHM_NX | KVSHM_IFVERSION, 0);
	ok(kvshm_batch(c, bad, 2, &failed) == KVSHM_EINVAL && failed == 1,
	   "two conditions on one op are KVSHM_EINVAL");
	bad[1] = (struct kvshm_batch_op){ KVSHM_BATCH_DEL, 0, "k", 1, "v", 1, 0, 0 };
	ok(kvshm_batch(c, bad, 2, &failed) == KVSHM_EINVAL && failed == 1,
	   "a value on a delete is KVSHM_EINVAL");
	bad[1] = (struct kvshm_batch_op){ KVSHM_BATCH_PUT, 0x100, "k", 1, "v", 1, 0, 0 };
	ok(kvshm_batch(c, bad, 2, &failed) == KVSHM_EINVAL && failed == 1,
	   "an unknown flag is KVSHM_EINVAL");
	bad[1] = (struct kvshm_batch_op){ KVSHM_BATCH_PUT, 0, "", 0, "v", 1, 0, 0 };
	ok(kvshm_batch(c, bad, 2, &failed) == KVSHM_EINVAL && failed == 1,
	   "an empty key is KVSHM_EINVAL");
	ok(kvshm_batch(c, bad, 0, &failed) == KVSHM_EINVAL && failed == 0 &&
	   kvshm_batch(c, NULL, 2, &failed) == KVSHM_EINVAL &&
	   kvshm_batch(NULL, bad, 1, NULL) == KVSHM_EINVAL,
	   "no ops, NULL ops, NULL handle: KVSHM_EINVAL");
	ok(kv_absent(c, "ok1"), "none of the refused batches stored anything");

	/* --max-entries 1000: fill up to 999, then add two at once. */
	keys0 = stat_of(c, "keys");
	many = calloc(1000, sizeof(*many));
	for (i = 0; i < 999 - keys0; i++) {
		many[i].op = KVSHM_BATCH_PUT;
		many[i].key = bigkeys[i];
		many[i].klen = (size_t)sprintf(bigkeys[i], "fill:%d", i);
	}
	ok(kvshm_batch(c, many, (size_t)(999 - keys0), &failed) == 0 &&
	   stat_of(c, "keys") == 999, "a batch of %lld puts fills the cache to 999 keys",
	   999 - keys0);
	memset(lim, 0, sizeof(lim));
	lim[0] = (struct kvshm_batch_op)PUT("over1", "v", 0);
	lim[1] = (struct kvshm_batch_op)PUT("a", "replaced", 0);
	lim[2] = (struct kvshm_batch_op)PUT("over2", "v", 0);
	ok(kvshm_batch(c, lim, 3, &failed) == KVSHM_ENOMEM && failed == 3 &&
	   kv_absent(c, "over1") && kv_absent(c, "over2") && kv_has(c, "a", "again") &&
	   stat_of(c, "keys") == 999,
	   "two new keys past --max-entries: KVSHM_ENOMEM, failed = n, nothing applied");
	lim[2] = (struct kvshm_batch_op)DEL("fill:0");
	ok(kvshm_batch(c, lim, 3, &failed) == 0 && kv_has(c, "over1", "v") &&
	   kv_has(c, "a", "replaced") && kv_absent(c, "fill:0") &&
	   stat_of(c, "keys") == 999, "one new key, a replacement and a delete fit");
	lim[0] = (struct kvshm_batch_op)PUT("over3", "v", 0);
	lim[2] = (struct kvshm_batch_op)PUT("over1", "w", 0);
	ok(kvshm_batch(c, lim, 3, &failed) == 0 && stat_of(c, "keys") == 1000 &&
	   kv_has(c, "over1", "w"), "up to --max-entries exactly");
	lim[0] = (struct kvshm_batch_op)PUT("over4", "v", 0);
	lim[2] = (struct kvshm_batch_op)DEL("fill:2");
	ok(kvshm_batch(c, lim, 3, &failed) == KVSHM_ENOMEM &&
	   kv_absent(c, "over4") && kv_has(c, "fill:2", ""),
	   "at the limit, additions count before deletions: KVSHM_ENOMEM");
	for (i = 0; i < 1000; i++)
		many[i] = (struct kvshm_batch_op){ KVSHM_BATCH_DEL, 0, bigkeys[i],
			strlen(bigkeys[i]), NULL, 0, 0, 0 };
	ok(kvshm_batch(c, many, (size_t)(999 - keys0), &failed) == 0 &&
	   stat_of(c, "keys") == keys0 + 2, "a batch of deletes empties it again");

	/* Memory: 8 MiB heap, values of 60000 bytes. */
	memset(vals, 'v', sizeof(vals));
	for (i = 0; i < 3; i++)
		huge[i] = (struct kvshm_batch_op){ KVSHM_BATCH_PUT, 0, bigkeys[i],
			(size_t)sprintf(bigkeys[i], "huge:%d", i), vals[i], 60000, 0, 0 };
	ok(kvshm_batch(c, huge, 3, &failed) == 0, "three 60 KB values fit");
	free(many);
	many = calloc(200, sizeof(*many));
	for (i = 0; i < 200; i++)
		many[i] = (struct kvshm_batch_op){ KVSHM_BATCH_PUT, 0, bigkeys[i % 3],
			strlen(bigkeys[i % 3]), vals[0], 60000, 0, 0 };
	for (i = 3; i < 200; i++) {
		many[i].key = bigkeys[i];
		many[i].klen = (size_t)sprintf(bigkeys[i], "mem:%d", i);
	}
	many[199] = (struct kvshm_batch_op)DEL("a");
	keys0 = stat_of(c, "keys");
	ok(kvshm_batch(c, many, 200, &failed) == KVSHM_ENOMEM && failed == 200,
	   "a batch that cannot fit in memory is KVSHM_ENOMEM, failed = n");
	for (i = 3, all = 1; i < 199; i++)
		if (!kv_absent(c, bigkeys[i]))
			all = 0;
	ok(all && kv_has(c, "a", "replaced") && stat_of(c, "keys") == keys0,
	   "none of its puts was stored, its delete not applied");

	free(many);
	many = calloc(300, sizeof(*many));
	for (i = 0; i < 300; i++)
		many[i] = (struct kvshm_batch_op){ KVSHM_BATCH_PUT, 0, "k", 1,
						   vals[0], 60000, 0, 0 };
	ok(kvshm_batch(c, many, 300, &failed) == KVSHM_ETOOBIG && failed == 300,
	   "a request over 16 MiB is KVSHM_ETOOBIG, failed = n");
	free(many);

	/* 4 processes move 1 from x to y NR_MOVES times each. */
	kvshm_set(c, S("x"), S("1000000"), 0, 0);
	kvshm_set(c, S("y"), S("0"), 0, 0);
	fflush(stdout);
	for (i = 0; i < NR_PROCS; i++) {
		pid[i] = fork();
		if (pid[i] == 0)
			_exit(mover_main(d.name));
		if (pid[i] < 0)
			bail_out("fork: %s", strerror(errno));
	}
	for (i = 0; i < NR_PROCS; i++)
		ok(wait_ok(pid[i]), "mover %d made %d transfers, losing only "
		   "KVSHM_ECHANGED rounds", i, NR_MOVES);
	ok(read_num(c, "x", &x, &va) == 0 && read_num(c, "y", &y, &vb) == 0 &&
	   x == START - NR_PROCS * NR_MOVES && y == NR_PROCS * NR_MOVES,
	   "x and y moved by exactly %d, their sum kept", NR_PROCS * NR_MOVES);

	/* A writer publishes NR_GEN generations while a reader watches. */
	fflush(stdout);
	pid[NR_PROCS] = fork();
	if (pid[NR_PROCS] == 0)
		_exit(gen_reader_main(d.name));
	pid[NR_PROCS + 1] = fork();
	if (pid[NR_PROCS + 1] == 0)
		_exit(gen_writer_main(d.name));
	if (pid[NR_PROCS] < 0 || pid[NR_PROCS + 1] < 0)
		bail_out("fork: %s", strerror(errno));
	ok(wait_ok(pid[NR_PROCS + 1]),
	   "the writer saw each of its %d batches whole once it returned", NR_GEN);
	kvshm_set(c, S("gen-done"), S("1"), 0, 0);
	ok(wait_ok(pid[NR_PROCS]),
	   "a reader saw every value whole, and no key going back in time");
	for (i = 0, all = 1; i < NR_TORN_KEYS; i++) {
		char k[8], buf[256];
		size_t n;

		sprintf(k, "g%d", i);
		if (kvshm_get(c, k, strlen(k), buf, sizeof(buf), &n) ||
		    value_ok(buf, n, i) != NR_GEN)
			all = 0;
	}
	ok(all, "every key ends at the last generation");
	ok(kvshm_ping(c) == 0, "the daemon still answers");

	kvshm_close(c);
	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	return exit_status();
}
