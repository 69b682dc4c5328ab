// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_hints.c - readers leave access hints where kvshmd
 * can see them: a key's hint word (found through its item, in a read-only
 * mapping of both objects) is set visited and counted by reads from
 * another process, survives a replacement of the value, and goes back to
 * the pool after the key is deleted and a grace period has passed.
 */
#include <fcntl.h>
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

/* The hint index of @key's current item, or 0. */
static uint32_t hint_of(const char *key)
{
	struct kvs_iref r;
	uint64_t h = kvs_hash(m.hdr->hash_seed, key, strlen(key));

	return kvs_lookup(&m, h, key, strlen(key), NULL, &r) ? r.hint : 0;
}

int main(void)
{
	struct test_daemon d;
	char shm[128], buf[64];
	size_t size, rw_size, vlen;
	char *base;
	long long used;
	uint32_t idx, w;
	void *rw;
	kvshm_t *c;
	pid_t pid;
	int st, i;

	plan_tests(9);
	start_kvshmd(&d, "hints", NULL);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot open");
	snprintf(shm, sizeof(shm), "/kvshm-%s", d.name);
	base = map_ro(shm, &size);
	kvs_map_set(&m, base, size);
	snprintf(shm, sizeof(shm), "/kvshm-%s.rw", d.name);
	rw = map_ro(shm, &rw_size);
	hints = kvs_rw_hints(rw, m.hdr->nslots);

	used = stat_of(c, "hint_words_used");
	kvshm_set(c, "hot", 3, "v1", 2, 0, 0);
	idx = hint_of("hot");
	ok(idx != 0 && idx < m.hdr->nhints && stat_of(c, "hint_words_used") == used + 1,
	   "a new key gets a hint word (%u)", idx);
	w = hints[idx];
	ok(kvs_hint_freq(w) == KVS_HINT_FREQ_INIT && !(w & KVS_HINT_VISITED),
	   "it starts at the initial counter, not visited");

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		kvshm_t *r;

		if (kvshm_open(&r, d.name, NULL))
			_exit(1);
		for (i = 0; i < 2000; i++)
			if (kvshm_get(r, "hot", 3, buf, sizeof(buf), &vlen))
				_exit(1);
		kvshm_close(r);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "another process reads it 2000 times");
	w = hints[idx];
	ok(w & KVS_HINT_VISITED, "the reads set the visited bit");
	ok(kvs_hint_freq(w) > KVS_HINT_FREQ_INIT, "and raised the counter (to %u)",
	   kvs_hint_freq(w));
	ok(kvs_hint_idle(w, m.hdr->clock_tick) <= 10000 / KVS_HINT_TICK_MS,
	   "and recorded the daemon's coarse clock");

	kvshm_set(c, "hot", 3, "v2", 2, 0, 0);
	ok(hint_of("hot") == idx && kvs_hint_freq(hints[idx]) == kvs_hint_freq(w),
	   "a new value keeps the key's hint word and its history");

	kvshm_del(c, "hot", 3);
	ok(wait_stat(c, "hint_words_used", used),
	   "a deleted key's word returns to the pool after a grace period");
	kvshm_set(c, "new", 3, "x", 1, 0, 0);
	ok(hint_of("new") == idx && kvs_hint_freq(hints[idx]) ==
	   KVS_HINT_FREQ_INIT && !(hints[idx] & KVS_HINT_VISITED),
	   "the freed word is reused, afresh, for the next new key");

	munmap((void *)m.base, size);
	munmap(rw, rw_size);
	kvshm_close(c);
	stop_kvshmd(&d);
	return exit_status();
}
