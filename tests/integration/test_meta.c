// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_meta.c - kvshm_get_meta() and kvshm_view_meta():
 * the value with its length, time to live, version and flags, all from one
 * item, and the struct_size rules that let struct kvshm_meta grow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../tap.h"

#define S(x) x, strlen(x)

/* A caller compiled against a later, larger struct kvshm_meta. */
struct meta_v9 {
	struct kvshm_meta m;
	uint64_t later[3];
	uint64_t guard;			/* past struct_size: must stay intact */
};

int main(void)
{
	static const char *const args[] = { "--max-key", "32", NULL };
	struct kvshm_meta m = { .struct_size = sizeof(m) }, m2;
	struct meta_v9 big;
	struct test_daemon d;
	const void *val;
	char buf[16], key[40];
	uint64_t v1;
	kvshm_t *c;

	plan_tests(20);
	start_kvshmd(&d, "meta", args);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot open");

	kvshm_set(c, S("k"), S("hello"), 0, 0);
	ok(kvshm_get_meta(c, S("k"), buf, sizeof(buf), &m) == 0 &&
	   m.vlen == 5 && memcmp(buf, "hello", 5) == 0 && m.ttl_ms == -1 &&
	   m.expire_ms == 0 && m.flags == 0 && m.version != 0,
	   "get_meta copies the value and reports length, no TTL, a version");
	ok(m.struct_size == sizeof(m), "get_meta leaves struct_size as it was");
	v1 = m.version;

	kvshm_set(c, S("k"), S("world!"), 86400000, 0);
	ok(kvshm_get_meta(c, S("k"), buf, sizeof(buf), &m) == 0 &&
	   m.vlen == 6 && memcmp(buf, "world!", 6) == 0 &&
	   m.flags == KVSHM_META_TTL && m.ttl_ms > 0 && m.ttl_ms <= 86400000 &&
	   m.expire_ms > 0, "a key with an expiry has KVSHM_META_TTL and its TTL");
	ok(m.version > v1, "a new write gives a higher version");
	v1 = m.version;
	ok(kvshm_get_meta(c, S("k"), buf, sizeof(buf), &m) == 0 && m.version == v1,
	   "reading does not change the version");
	kvshm_persist(c, S("k"));
	ok(kvshm_get_meta(c, S("k"), NULL, 0, &m) == 0 && m.version > v1 &&
	   m.flags == 0 && m.ttl_ms == -1, "persist is a write: new version, no TTL");

	memset(buf, 'x', sizeof(buf));
	m.vlen = 0;
	ok(kvshm_get_meta(c, S("k"), buf, 3, &m) == KVSHM_ETOOSMALL &&
	   m.vlen == 6 && buf[0] == 'x',
	   "a short buffer is KVSHM_ETOOSMALL with the metadata, nothing copied");
	ok(kvshm_get_meta(c, S("k"), NULL, 0, &m) == 0 && m.vlen == 6,
	   "a NULL buffer reads the metadata alone");
	ok(kvshm_get_meta(c, S("absent"), buf, sizeof(buf), &m) == KVSHM_ENOTFOUND,
	   "an absent key is KVSHM_ENOTFOUND");

	ok(kvshm_get_meta(c, S("k"), buf, sizeof(buf), NULL) == KVSHM_EINVAL &&
	   kvshm_get_meta(c, S("k"), NULL, 4, &m) == KVSHM_EINVAL &&
	   kvshm_get_meta(c, "", 0, buf, sizeof(buf), &m) == KVSHM_EINVAL,
	   "NULL meta, NULL buffer with a capacity, empty key: KVSHM_EINVAL");
	memset(key, 'a', sizeof(key));
	ok(kvshm_get_meta(c, key, 33, buf, sizeof(buf), &m) == KVSHM_ETOOBIG,
	   "a key over --max-key is KVSHM_ETOOBIG");
	m2.struct_size = 8;
	ok(kvshm_get_meta(c, S("k"), buf, sizeof(buf), &m2) == KVSHM_EINVAL,
	   "a struct_size below the first version's is KVSHM_EINVAL");
	memset(&m2, 0xff, sizeof(m2));
	m2.struct_size = 0;
	ok(kvshm_get_meta(c, S("k"), buf, sizeof(buf), &m2) == 0 && m2.vlen == 6 &&
	   m2.struct_size == 0, "struct_size 0 means the first version's size");

	memset(&big, 0xee, sizeof(big));
	big.m.struct_size = offsetof(struct meta_v9, guard);
	ok(kvshm_get_meta(c, S("k"), buf, sizeof(buf), &big.m) == 0 &&
	   big.m.vlen == 6 && big.later[0] == 0 && big.later[2] == 0 &&
	   big.guard == 0xeeeeeeeeeeeeeeeeULL,
	   "a larger struct_size: unknown fields zeroed, nothing written past it");

	ok(kvshm_view_meta(c, S("k"), &val, &m) == KVSHM_EINVAL,
	   "view_meta outside a read section is KVSHM_EINVAL");
	ok(kvshm_read_lock(c) == 0, "read_lock opens a section");
	ok(kvshm_view_meta(c, S("k"), &val, &m) == 0 && m.vlen == 6 &&
	   memcmp(val, "world!", 6) == 0 && m.version != 0,
	   "view_meta points at the value and fills the metadata");
	ok(kvshm_view_meta(c, S("k"), NULL, &m2) == 0 && m2.version == m.version,
	   "view_meta with NULL val gives the metadata alone, same version");
	ok(kvshm_view_meta(c, S("nope"), &val, &m) == KVSHM_ENOTFOUND,
	   "view_meta of an absent key is KVSHM_ENOTFOUND");
	kvshm_read_unlock(c);

	kvshm_close(c);
	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	return exit_status();
}
