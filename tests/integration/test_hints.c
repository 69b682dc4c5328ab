// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_hints.c - readers leave access hints where kvshmd
 * can see them: a key's hint word (its bucket entry's, in a read-only
 * mapping of both objects) is set visited and counted by reads from
 * another process, survives a replacement of the value, starts afresh
 * for a key placed in the entry again, and moves, history and all, with
 * the key when its shard grows; and that readers leave only what the
 * eviction policy reads (kvshmd says so in the header): nothing under
 * noeviction or random, the visited bit alone under sieve.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kvshm.h>

#include "hash.h"
#include "hint.h"
#include "layout.h"
#include "table.h"
#include "../lib/daemon.h"
#include "../tap.h"

static void *map_ro(const char *shm, size_t *size)
{
	struct stat st;
	void *p;
	int fd = shm_open(shm, O_RDONLY, 0);

	if (fd < 0 || fstat(fd, &st) < 0)
		bail_out("cannot open %s", shm);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		bail_out("cannot map %s", shm);
	*size = (size_t)st.st_size;
	return p;
}

static struct kvs_map m;
static uint32_t *hints;

/*
 * The hint index of @key's entry, or UINT64_MAX if absent; *@own set to
 * whether it is the one kvs_hint_index() gives for the shard's array and
 * the entry's bucket and slot.
 */
static uint64_t hint_of(const char *key, bool *own)
{
	struct kvs_barray_view v;
	struct kvs_iref r;
	struct kvs_pos pos;
	uint64_t h = kvs_hash(m.hdr->hash_seed, key, strlen(key));

	if (!kvs_lookup(&m, h, key, strlen(key), &pos, &r) ||
	    kvs_shard_array(&m, kvs_hash_shard(h, m.shard_bits), &v))
		return UINT64_MAX;
	if (own)
		*own = r.hint == kvs_hint_index(v.off, pos.bucket, pos.slot);
	return r.hint;
}

/*
 * Read @key @n times from another process; true if every read hit. The
 * child reads "warm-up" first: a thread's first read through a handle
 * takes the full path (get_full()), later ones of 9- to 16-byte keys
 * kvshm_get()'s short path, so that both are what the checks see.
 */
static bool read_from_child(const char *name, const char *key, int n)
{
	char buf[64];
	size_t vlen;
	pid_t pid;
	int st, i;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		kvshm_t *r;

		if (kvshm_open(&r, name, NULL) ||
		    kvshm_get(r, "warm-up", 7, buf, sizeof(buf), &vlen))
			_exit(1);
		for (i = 0; i < n; i++)
			if (kvshm_get(r, key, strlen(key), buf, sizeof(buf),
				      &vlen))
				_exit(1);
		kvshm_close(r);
		_exit(0);
	}
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	       WEXITSTATUS(st) == 0;
}

int main(void)
{
	struct test_daemon d;
	char shm[128], key[32];
	size_t size, rw_size;
	char *base;
	long long used;
	uint64_t idx, idx2;
	uint32_t w, w2;
	bool own = false, done;
	char *stat_text = NULL;
	void *rw;
	kvshm_t *c;
	int i, failed = 0;

	static const char *const lru[] = { "--eviction", "lru", NULL };
	static const struct { const char *name; uint32_t mode, stat; } pol[] = {
		{ "noeviction", KVS_HINTS_NONE, 0 },
		{ "random", KVS_HINTS_NONE, 0 },
		{ "volatile-random", KVS_HINTS_NONE, 0 },
		{ "volatile-ttl", KVS_HINTS_NONE, 0 },
		{ "lru", KVS_HINTS_ALL, 1 }, { "lfu", KVS_HINTS_ALL, 1 },
		{ "volatile-lru", KVS_HINTS_ALL, 1 },
		{ "volatile-lfu", KVS_HINTS_ALL, 1 },
		{ "sieve", KVS_HINTS_VISITED, 2 },
	};

	plan_tests(21);
	start_kvshmd(&d, "hints", lru);
	if (kvshm_open(&c, d.name, NULL) ||
	    kvshm_set(c, "warm-up", 7, "w", 1, 0, 0))
		bail_out("cannot open");
	snprintf(shm, sizeof(shm), "/kvshm-%s", d.name);
	base = map_ro(shm, &size);
	kvs_map_set(&m, base, size);
	snprintf(shm, sizeof(shm), "/kvshm-%s.rw", d.name);
	rw = map_ro(shm, &rw_size);
	hints = kvs_rw_hints(rw, m.hdr->nslots);
	ok(m.hdr->nhints == m.hdr->size / 8 &&
	   rw_size >= kvs_rw_size(m.hdr->nslots, m.hdr->nhints) &&
	   stat_of(c, "hint_words") == (long long)m.hdr->nhints,
	   "the rw area has a hint word per 8 bytes of the segment (%llu)",
	   (unsigned long long)m.hdr->nhints);

	used = stat_of(c, "hint_words_used");
	kvshm_set(c, "hot", 3, "v1", 2, 0, 0);
	idx = hint_of("hot", &own);
	ok(idx < m.hdr->nhints && own && stat_of(c, "hint_words_used") == used,
	   "a new key's hint word is its entry's (%llu); no word is allocated",
	   (unsigned long long)idx);
	w = hints[idx];
	ok(kvs_hint_freq(w) == KVS_HINT_FREQ_INIT && !(w & KVS_HINT_VISITED),
	   "it starts at the initial counter, not visited");

	ok(read_from_child(d.name, "hot", 2000),
	   "another process reads it 2000 times");
	w = hints[idx];
	ok(w & KVS_HINT_VISITED, "the reads set the visited bit");
	ok(kvs_hint_freq(w) > KVS_HINT_FREQ_INIT, "and raised the counter (to %u)",
	   kvs_hint_freq(w));
	ok(kvs_hint_idle(w, m.hdr->clock_tick) <= 10000 / KVS_HINT_TICK_MS,
	   "and recorded the daemon's coarse clock");

	kvshm_set(c, "hot", 3, "v2", 2, 0, 0);
	ok(hint_of("hot", NULL) == idx && hints[idx] == w,
	   "a new value keeps the key's hint word and its history");

	kvshm_del(c, "hot", 3);
	kvshm_set(c, "hot", 3, "v3", 2, 0, 0);
	ok(hint_of("hot", NULL) == idx &&
	   kvs_hint_freq(hints[idx]) == KVS_HINT_FREQ_INIT &&
	   !(hints[idx] & KVS_HINT_VISITED),
	   "a key placed in the entry again, after a delete, starts afresh");

	/* Grow hot's shard (and every other) many times over. */
	ok(read_from_child(d.name, "hot", 2000), "read it 2000 times again");
	w = hints[idx];
	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "grow-%d", i);
		failed += kvshm_set(c, key, strlen(key), "x", 1, 0, 0) != 0;
	}
	idx2 = hint_of("hot", &own);
	w2 = idx2 < m.hdr->nhints ? hints[idx2] : 0;
	ok(!failed && idx2 != idx && own && w2 == w,
	   "when its shard grows, the key's word moves with it, history and "
	   "all (%llu -> %llu, %#x)", (unsigned long long)idx,
	   (unsigned long long)idx2, w2);
	idx2 = hint_of(key, &own);
	ok(idx2 < m.hdr->nhints && own && kvs_hint_freq(hints[idx2]) ==
	   KVS_HINT_FREQ_INIT, "so has the last key added (%s), unread", key);
	ok(stat_of(c, "hint_words_used") >= 20001,
	   "hint_words_used counts the entries of the arrays (%lld)",
	   stat_of(c, "hint_words_used"));

	/* Policies that read no hint: readers leave none. */
	ok(m.hdr->hint_mode == KVS_HINTS_ALL &&
	   stat_of(c, "hints_by_readers") == 1,
	   "under lru, the header asks for every field (hints_by_readers 1)");
	failed = 0;
	for (i = 0; i < (int)(sizeof(pol) / sizeof(pol[0])); i++)
		if (kvshm_config_set(c, "eviction", pol[i].name) ||
		    __atomic_load_n(&m.hdr->hint_mode, __ATOMIC_RELAXED) !=
		    pol[i].mode ||
		    stat_of(c, "hints_by_readers") != (long long)pol[i].stat) {
			diag("%s: hint_mode %u", pol[i].name, m.hdr->hint_mode);
			failed++;
		}
	ok(!failed, "hint_mode is none for noeviction, random, "
	   "volatile-random and volatile-ttl, all for lru, lfu, volatile-lru "
	   "and volatile-lfu, the visited bit for sieve; so says the stat");

	kvshm_set(c, "cold", 4, "v", 1, 0, 0);
	idx = hint_of("cold", NULL);
	w = idx < m.hdr->nhints ? hints[idx] : 1;
	ok(kvshm_config_set(c, "eviction", "noeviction") == 0 &&
	   read_from_child(d.name, "cold", 2000) &&
	   read_from_child(d.name, "hot", 2000),
	   "under noeviction, another process reads two keys 2000 times");
	/* Below, every read is done before ok() prints the words. */
	ok(idx < m.hdr->nhints && hints[idx] == w && !(w & KVS_HINT_VISITED),
	   "the 4-byte key's word (a full-path GET) is untouched (%#x)",
	   idx < m.hdr->nhints ? hints[idx] : 0);
	idx2 = hint_of("hot", NULL);
	w2 = idx2 < m.hdr->nhints ? hints[idx2] : 0;
	done = kvshm_config_set(c, "eviction", "random") == 0 &&
	       read_from_child(d.name, "hot", 2000);
	ok(done && idx2 < m.hdr->nhints && hints[idx2] == w2,
	   "so is a 3-byte key's, under random too");

	/* A 12-byte key takes kvshm_get()'s short path; "cold" does not. */
	kvshm_set(c, "twelve-bytes", 12, "v", 1, 0, 0);
	idx2 = hint_of("twelve-bytes", NULL);
	w2 = idx2 < m.hdr->nhints ? hints[idx2] : 1;
	if (kvshm_stats(c, &stat_text) || !strstr(stat_text,
						  "membarrier expedited"))
		diag("fenced read sections: kvshm_get()'s short path is off, "
		     "the 12-byte key's checks see the full path only");
	done = read_from_child(d.name, "twelve-bytes", 2000);
	ok(done && idx2 < m.hdr->nhints && hints[idx2] == w2,
	   "and a 12-byte key's, read on kvshm_get()'s short path (%#x)",
	   idx2 < m.hdr->nhints ? hints[idx2] : 0);
	/* One read each, after the child's first: the short path for
	 * twelve-bytes, get_full() for cold. */
	done = kvshm_config_set(c, "eviction", "sieve") == 0 &&
	       read_from_child(d.name, "twelve-bytes", 1) &&
	       read_from_child(d.name, "cold", 1);
	ok(done && idx2 < m.hdr->nhints && idx < m.hdr->nhints &&
	   hints[idx2] == (w2 | KVS_HINT_VISITED) &&
	   hints[idx] == (w | KVS_HINT_VISITED),
	   "under sieve, one read sets the visited bit and nothing else, on "
	   "either path (%#x, %#x)", idx2 < m.hdr->nhints ? hints[idx2] : 0,
	   idx < m.hdr->nhints ? hints[idx] : 0);
	w = idx2 < m.hdr->nhints ? hints[idx2] : 0;
	/* At the initial counter, the coin always wins (kvs_hint_coin()). */
	done = kvshm_config_set(c, "eviction", "lfu") == 0 &&
	       read_from_child(d.name, "twelve-bytes", 1);
	ok(done && idx2 < m.hdr->nhints && kvs_hint_freq(w) ==
	   KVS_HINT_FREQ_INIT &&
	   kvs_hint_freq(hints[idx2]) == KVS_HINT_FREQ_INIT + 1 &&
	   kvs_hint_idle(hints[idx2], m.hdr->clock_tick) <=
	   10000 / KVS_HINT_TICK_MS,
	   "under lfu, one read raises the counter and records the clock "
	   "again");

	free(stat_text);
	munmap((void *)m.base, size);
	munmap(rw, rw_size);
	kvshm_close(c);
	stop_kvshmd(&d);
	return exit_status();
}
