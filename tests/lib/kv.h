/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/kv.h - one-line questions the integration tests ask a cache
 * through the public API (kvshm.h): does a key hold this value, is it
 * absent, what version does it carry. Each answers and prints nothing;
 * what a test expects, and its TAP lines, stay in the test.
 */
#ifndef KVSHM_TEST_KV_H
#define KVSHM_TEST_KV_H

#include <stdint.h>

#include <kvshm.h>

/*
 * kv_has - does @key hold exactly the bytes of the string @want (its
 * length, without the terminating NUL)? Read with kvshm_get().
 *
 * Return: 1 if so; 0 if the value differs or the read fails (absent,
 * expired, or any other error).
 */
int kv_has(kvshm_t *c, const char *key, const char *want);

/* kv_absent - 1 if kvshm_exists() says @key is KVSHM_ENOTFOUND, else 0. */
int kv_absent(kvshm_t *c, const char *key);

/* kv_version - the version kvshm_get_meta() reports for @key; 0 on error. */
uint64_t kv_version(kvshm_t *c, const char *key);

/*
 * kv_churn - @rounds times: replace the value of @held, then set and
 * delete one of 50 other keys, every value @vlen bytes of 'a' + round %
 * 26, so that items are retired as fast as the daemon takes writes.
 * Return: the byte the last value of @held is made of.
 */
char kv_churn(kvshm_t *c, const char *held, size_t vlen, int rounds);

#endif /* KVSHM_TEST_KV_H */
