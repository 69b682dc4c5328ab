// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_api_recovery.c - what kvshm_batch(), kvshm_cas()
 * and kvshm_cas_del() leave after a crash: kvshmd (fsync=always) is
 * SIGKILLed and restarted on the same data directory. Applied batches
 * come back whole, refused ones not at all; items keep their versions, so
 * a compare-and-set with a version read before the crash still works, and
 * versions given out after the restart are higher than any before it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../lib/kv.h"
#include "../tap.h"

#define S(x) x, strlen(x)
#define DAY_MS	86400000

int main(void)
{
	static const char *const args[] = { "--fsync", "always", NULL };
	struct kvshm_batch_op good[] = {
		{ KVSHM_BATCH_PUT, 0, "a", 1, "1", 1, 0, 0 },
		{ KVSHM_BATCH_PUT, 0, "b", 1, "2", 1, DAY_MS, 0 },
		{ KVSHM_BATCH_DEL, 0, "gone", 4, NULL, 0, 0, 0 },
		{ KVSHM_BATCH_PUT, 0, "twice", 5, "first", 5, 0, 0 },
		{ KVSHM_BATCH_PUT, 0, "twice", 5, "last", 4, 0, 0 },
	};
	struct kvshm_batch_op refused[] = {
		{ KVSHM_BATCH_PUT, 0, "e", 1, "no", 2, 0, 0 },
		{ KVSHM_BATCH_PUT, KVSHM_NX, "a", 1, "no", 2, 0, 0 },
	};
	struct test_daemon d;
	uint64_t va, vb, vd = 0, vmax, nv = 0;
	int64_t ttl = 0;
	kvshm_t *c;

	plan_tests(12);
	start_kvshmd(&d, "apirec", args);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot open");
	kvshm_set(c, S("gone"), S("doomed"), 0, 0);
	kvshm_set(c, S("f"), S("cas-deleted"), 0, 0);
	ok(kvshm_batch(c, good, 5, NULL) == 0 &&
	   kvshm_batch(c, refused, 2, NULL) == KVSHM_EEXISTS &&
	   kvshm_cas(c, S("d"), S("x"), 0, 0, &vd) == 0 &&
	   kvshm_cas_del(c, S("f"), kv_version(c, "f")) == 0,
	   "a batch, a refused batch, a cas and a cas_del before the crash");
	va = kv_version(c, "a");
	vb = kv_version(c, "b");
	vmax = vd > va ? vd : va;
	vmax = vb > vmax ? vb : vmax;
	kvshm_close(c);

	kill_kvshmd(&d);
	restart_kvshmd(&d, args);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot open after the restart");

	ok(kv_has(c, "a", "1") && kv_has(c, "b", "2") && kv_absent(c, "gone") &&
	   kv_has(c, "twice", "last"), "the applied batch is all there");
	ok(kvshm_ttl(c, S("b"), &ttl) == 0 && ttl > 0 && ttl <= DAY_MS,
	   "its put with a TTL kept the TTL");
	ok(kv_absent(c, "e"), "nothing of the refused batch was recovered");
	ok(kv_has(c, "d", "x") && kv_absent(c, "f"), "the cas and the cas_del are there");
	ok(kv_version(c, "a") == va && kv_version(c, "b") == vb &&
	   kv_version(c, "d") == vd, "every item kept its version");
	ok(kvshm_cas(c, S("d"), S("y"), 0, vd, &nv) == 0 && kv_has(c, "d", "y"),
	   "a cas with a version read before the crash succeeds after it");
	ok(nv > vmax, "a version given out after the restart is higher than "
	   "any before it");
	ok(kvshm_cas(c, S("a"), S("z"), 0, va - 1, NULL) == KVSHM_ECHANGED &&
	   kv_has(c, "a", "1"), "a wrong version still fails after the restart");
	ok(kvshm_batch(c, refused, 1, NULL) == 0 && kv_has(c, "e", "no"),
	   "batches work after the restart");
	kvshm_close(c);

	ok(term_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	restart_kvshmd(&d, args);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot open after the clean restart");
	ok(kv_has(c, "d", "y") && kv_has(c, "e", "no") && kv_version(c, "d") == nv,
	   "a clean stop and start keeps values and versions");
	kvshm_close(c);
	stop_kvshmd(&d);
	return exit_status();
}
