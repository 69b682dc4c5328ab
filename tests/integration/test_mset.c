// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_mset.c - kvshm_mset(): many pairs in one request,
 * all or nothing: a batch refused for a limit or for memory stores none of
 * its pairs and leaves older data as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../lib/kv.h"
#include "../tap.h"

#define KV(k, v, t) { k, sizeof(k) - 1, v, sizeof(v) - 1, t }

int main(void)
{
	static const char *const args[] = { "--memory", "8M", "--max-key", "64",
					     NULL };
	struct kvshm_kv three[] = { KV("a", "1", 0), KV("b", "2", 100000),
				    KV("c", "3", 0) };
	struct kvshm_kv dup[] = { KV("d", "first", 0), KV("e", "x", 0),
				  KV("d", "last", 0) };
	struct kvshm_kv badkey[] = { KV("f", "1", 0), { "k", 65, "v", 1, 0 } };
	struct kvshm_kv badttl[] = { KV("g", "1", 0), KV("h", "1", -5) };
	struct kvshm_kv mixed[] = { KV("a", "10", 0), KV("new", "n", 0) };
	struct kvshm_kv *many, *huge;
	struct test_daemon d;
	char (*keys)[16], *big;
	long long keys0;
	int64_t ttl;
	kvshm_t *c;
	int i, all, none;

	plan_tests(17);
	start_kvshmd(&d, "mset", args);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot open");

	ok(kvshm_mset(c, three, 3) == 0, "mset of three pairs succeeds");
	ok(kv_has(c, "a", "1") && kv_has(c, "b", "2") && kv_has(c, "c", "3"),
	   "every pair reads back");
	ok(kvshm_ttl(c, "b", 1, &ttl) == 0 && ttl > 0 && ttl <= 100000 &&
	   kvshm_ttl(c, "a", 1, &ttl) == 0 && ttl == -1,
	   "each pair keeps its own TTL");
	ok(kvshm_mset(c, dup, 3) == 0 && kv_has(c, "d", "last") && kv_has(c, "e", "x"),
	   "a key given twice takes its last value");
	ok(kvshm_mset(c, mixed, 2) == 0 && kv_has(c, "a", "10") && kv_has(c, "new", "n"),
	   "a batch may replace some keys and add others");

	keys0 = stat_of(c, "keys");
	ok(kvshm_mset(c, badkey, 2) == KVSHM_ETOOBIG &&
	   kvshm_exists(c, "f", 1) == KVSHM_ENOTFOUND,
	   "one over-long key refuses the whole batch");
	ok(kvshm_mset(c, badttl, 2) == KVSHM_EINVAL &&
	   kvshm_exists(c, "g", 1) == KVSHM_ENOTFOUND,
	   "one negative TTL refuses the whole batch");
	ok(kvshm_mset(c, three, 0) == KVSHM_EINVAL && kvshm_mset(c, NULL, 1) == KVSHM_EINVAL,
	   "an empty or NULL batch is KVSHM_EINVAL");
	ok(stat_of(c, "keys") == keys0, "refused batches changed no key count");

	many = calloc(20000, sizeof(*many));
	keys = calloc(20000, sizeof(*keys));
	for (i = 0; i < 20000; i++) {
		many[i].key = keys[i];
		many[i].klen = (size_t)sprintf(keys[i], "many:%d", i);
		many[i].val = keys[i];
		many[i].vlen = many[i].klen;
	}
	ok(kvshm_mset(c, many, 20000) == 0, "a batch of 20000 pairs succeeds");
	for (i = 0, all = 1; i < 20000; i++)
		if (!kv_has(c, keys[i], keys[i]))
			all = 0;
	ok(all && stat_of(c, "keys") == keys0 + 20000,
	   "all 20000 are stored, growing the shards on the way");

	/* 8 MiB heap: 200 values of 60 KB cannot fit. */
	big = calloc(1, 60000);
	huge = calloc(200, sizeof(*huge));
	for (i = 0; i < 200; i++) {
		huge[i].key = keys[i];
		huge[i].klen = (size_t)sprintf(keys[i], "huge:%d", i);
		huge[i].val = big;
		huge[i].vlen = 60000;
	}
	keys0 = stat_of(c, "keys");
	ok(kvshm_mset(c, huge, 200) == KVSHM_ENOMEM, "a batch that cannot fit is KVSHM_ENOMEM");
	for (i = 0, none = 1; i < 200; i++)
		if (kvshm_exists(c, keys[i], strlen(keys[i])) != KVSHM_ENOTFOUND)
			none = 0;
	ok(none && stat_of(c, "keys") == keys0, "none of its pairs was stored");
	ok(kv_has(c, "a", "10") && kv_has(c, "d", "last"), "older data is untouched");
	ok(kvshm_mset(c, huge, 10) == 0, "its memory is free again for a smaller batch");

	for (i = 0; i < 20; i++) {
		huge[i].vlen = 1 << 20;
		huge[i].val = calloc(1, 1 << 20);
	}
	ok(kvshm_mset(c, huge, 20) == KVSHM_ETOOBIG,
	   "a request over 16 MiB is KVSHM_ETOOBIG");
	for (i = 0; i < 20; i++)
		free((void *)huge[i].val);

	kvshm_close(c);
	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	free(many);
	free(keys);
	free(big);
	free(huge);
	return exit_status();
}
