// SPDX-License-Identifier: MIT
/*
 * tests/lib/kv.c - value checks for the integration tests (see kv.h).
 * Public API only: nothing here may look at the shared segment itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvshm.h>

#include "kv.h"
#include "../tap.h"

int kv_has(kvshm_t *c, const char *key, const char *want)
{
	size_t wlen = strlen(want), n;
	char *buf;
	int same;

	/* One byte more than @want: a longer value is KVSHM_ETOOSMALL. */
	buf = malloc(wlen + 1);
	if (!buf)
		bail_out("kv_has: out of memory");
	same = kvshm_get(c, key, strlen(key), buf, wlen + 1, &n) == 0 &&
	       n == wlen && memcmp(buf, want, n) == 0;
	free(buf);
	return same;
}

int kv_absent(kvshm_t *c, const char *key)
{
	return kvshm_exists(c, key, strlen(key)) == KVSHM_ENOTFOUND;
}

uint64_t kv_version(kvshm_t *c, const char *key)
{
	struct kvshm_meta m = { .struct_size = sizeof(m) };

	return kvshm_get_meta(c, key, strlen(key), NULL, 0, &m) ? 0 : m.version;
}

char kv_churn(kvshm_t *c, const char *held, size_t vlen, int rounds)
{
	char *val = malloc(vlen), key[32], last = 0;
	int i;

	if (!val)
		bail_out("kv_churn: out of memory");
	for (i = 0; i < rounds; i++) {
		last = (char)('a' + i % 26);
		memset(val, last, vlen);
		kvshm_set(c, held, strlen(held), val, vlen, 0, 0);
		snprintf(key, sizeof(key), "other:%d", i % 50);
		kvshm_set(c, key, strlen(key), val, vlen, 0, 0);
		kvshm_del(c, key, strlen(key));
	}
	free(val);
	return last;
}
