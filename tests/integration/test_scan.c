// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_scan.c - kvshm_scan(): a resumable walk in pieces
 * with filters, returning every key present for the whole walk at least
 * once, even while other keys are written and the shards grow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../tap.h"

#define NKEYS 3000

static unsigned char seen[NKEYS];
static int calls_keys, others;

static int mark(const void *key, size_t klen, void *arg)
{
	char buf[32];
	int i;

	calls_keys++;
	if (klen >= sizeof(buf))
		return 0;
	memcpy(buf, key, klen);
	buf[klen] = '\0';
	if (sscanf(buf, "scan:%d", &i) == 1 && i >= 0 && i < NKEYS)
		seen[i]++;
	else
		others++;
	return 0;
}

static int stop(const void *key, size_t klen, void *arg)
{
	return 9;
}

/* Walk everything with @o; writers add "noise" keys between calls. */
static int walk(kvshm_t *c, struct kvshm_scan_opts *o, int *pieces, int noise)
{
	uint64_t cursor = 0;
	int rc, n = 0;

	do {
		rc = kvshm_scan(c, &cursor, o, mark, NULL);
		n++;
		if (noise) {
			char k[32];
			int i;

			for (i = 0; i < noise; i++) {
				int m = snprintf(k, sizeof(k), "noise:%d:%d", n, i);

				kvshm_set(c, k, (size_t)m, "n", 1, 0, 0);
			}
		}
	} while (rc == 0 && cursor != 0 && n < 100000);
	*pieces = n;
	return rc;
}

int main(void)
{
	static const char *const args[] = { "--shards", "4", NULL };
	struct kvshm_scan_opts o = { 0 };
	struct test_daemon d;
	int i, pieces = 0, all, once;
	uint64_t cursor;
	kvshm_t *c;
	char k[32];

	plan_tests(13);
	start_kvshmd(&d, "scan", args);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot open");
	for (i = 0; i < NKEYS; i++) {
		int m = snprintf(k, sizeof(k), "scan:%d", i);

		kvshm_set(c, k, (size_t)m, "v", 1, 0, 0);
	}
	kvshm_set(c, "other", 5, "v", 1, 0, 0);

	o.limit = 100;
	i = walk(c, &o, &pieces, 0);
	ok(i == 0 && pieces >= NKEYS / 100,
	   "a walk with limit 100 takes %d calls", pieces);
	for (i = 0, once = 1; i < NKEYS; i++)
		if (seen[i] != 1)
			once = 0;
	ok(once && others == 1, "with no writes, every key comes exactly once");

	memset(seen, 0, sizeof(seen));
	calls_keys = others = 0;
	o.limit = 37;
	ok(walk(c, &o, &pieces, 40) == 0, "a walk while 40 new keys arrive per call ends");
	ok(pieces > 1, "it took %d calls", pieces);
	for (i = 0, all = 1; i < NKEYS; i++)
		if (seen[i] < 1)
			all = 0;
	ok(all, "every key present throughout was returned at least once, "
	   "though the shards grew under the walk");

	memset(seen, 0, sizeof(seen));
	calls_keys = others = 0;
	o.limit = 0;
	o.prefix = "scan:1";
	o.prefix_len = 6;
	i = walk(c, &o, &pieces, 0);
	ok(i == 0 && pieces == 1, "limit 0 walks all in one call");
	/* scan:1, scan:10..19, scan:100..199, scan:1000..1999 */
	ok(calls_keys == 1 + 10 + 100 + 1000 && others == 0 && seen[1] && seen[1999] &&
	   !seen[2], "a prefix returns exactly the keys that start with it");

	memset(seen, 0, sizeof(seen));
	calls_keys = others = 0;
	memset(&o, 0, sizeof(o));
	o.min = "scan:2";
	o.min_len = 6;
	o.max = "scan:3";
	o.max_len = 6;
	ok(walk(c, &o, &pieces, 0) == 0 && calls_keys == 1 + 10 + 100 + 1000 &&
	   seen[2] && seen[2999] && !seen[3] && !seen[1],
	   "a range [min, max) returns exactly the keys between");

	memset(seen, 0, sizeof(seen));
	calls_keys = others = 0;
	memset(&o, 0, sizeof(o));
	o.pattern = "scan:?";
	ok(walk(c, &o, &pieces, 0) == 0 && calls_keys == 10, "a glob pattern filters");

	cursor = 0;
	ok(kvshm_scan(c, &cursor, NULL, stop, NULL) == 9 && cursor == 0,
	   "a callback's non-zero return stops the call, cursor unchanged");
	cursor = (uint64_t)99 << 48;
	ok(kvshm_scan(c, &cursor, NULL, mark, NULL) == KVSHM_EINVAL,
	   "a cursor past the cache's shards is KVSHM_EINVAL");
	ok(kvshm_scan(c, NULL, NULL, mark, NULL) == KVSHM_EINVAL &&
	   kvshm_scan(c, &cursor, NULL, NULL, NULL) == KVSHM_EINVAL,
	   "NULL cursor or callback is KVSHM_EINVAL");

	kvshm_close(c);
	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	return exit_status();
}
