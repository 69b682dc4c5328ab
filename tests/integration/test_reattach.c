// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_reattach.c - client processes keep running across
 * daemon restarts. While kvshmd is down, a handle goes on reading the last
 * data its daemon stored (unless opened with KVSHM_OPEN_NO_STALE) and its
 * writes fail promptly with KVSHM_EDAEMON; once a new kvshmd serves the
 * name, the next call reattaches by itself, with no kvshm_close() and
 * kvshm_open() in between.
 *
 * Three live client processes write and read their own keys without
 * pause through a clean stop, a SIGKILL and another clean stop. kvshmd
 * runs with fsync=always, so an acknowledged write survives even the
 * SIGKILL: every value a client reads must be at least the last one it
 * was told was stored, before, during and after each restart.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../lib/kv.h"
#include "../tap.h"

#define S(x) x, strlen(x)
#define NCLIENTS	3

/* Shared with the client processes (an anonymous shared mapping). */
struct board {
	volatile int stop;
	struct {
		volatile long acked;	/* last value a write was acked for */
		volatile long writes_ok, writes_down, reads;
		volatile long bad;	/* a read went back, or a bad code */
		volatile int last_bad_rc;
	} cl[NCLIENTS];
};

static struct board *bd;

static const char *const args[] = { "--fsync", "always", NULL };

/*
 * A client process: writes "k<i>" = 1, 2, 3, ... and reads it back, for
 * as long as the board says. A write that fails must fail with
 * KVSHM_EDAEMON; a read must return a value at least the last acked one
 * (or KVSHM_EDAEMON, which a thread's first read may give while the
 * daemon is down). Exits 0 if all of that held.
 */
static void client(const char *name, int i)
{
	char key[16], val[32], buf[32];
	long next = 1;
	kvshm_t *c;
	size_t n;
	int rc;

	snprintf(key, sizeof(key), "k%d", i);
	if (kvshm_open(&c, name, NULL))
		_exit(2);
	while (!bd->stop) {
		snprintf(val, sizeof(val), "%ld", next);
		rc = kvshm_set(c, key, strlen(key), val, strlen(val), 0, 0);
		if (rc == 0) {
			bd->cl[i].acked = next++;
			bd->cl[i].writes_ok++;
		} else if (rc == KVSHM_EDAEMON) {
			bd->cl[i].writes_down++;
			usleep(200);	/* leave the restart some CPU */
		} else {
			bd->cl[i].last_bad_rc = rc;
			bd->cl[i].bad++;
		}
		rc = kvshm_get(c, key, strlen(key), buf, sizeof(buf) - 1, &n);
		if (rc == 0) {
			buf[n] = '\0';
			if (strtol(buf, NULL, 10) < bd->cl[i].acked)
				bd->cl[i].bad++;
			bd->cl[i].reads++;
		} else if (rc != KVSHM_EDAEMON &&
			   !(rc == KVSHM_ENOTFOUND && bd->cl[i].acked == 0)) {
			bd->cl[i].last_bad_rc = rc;
			bd->cl[i].bad++;
		}
	}
	kvshm_close(c);
	_exit(bd->cl[i].bad ? 1 : 0);
}

/* Wait until every client has had a write acked since @since. */
static int clients_write_again(const long since[NCLIENTS])
{
	int i, k;

	for (k = 0; k < 4000; k++) {
		for (i = 0; i < NCLIENTS; i++)
			if (bd->cl[i].writes_ok <= since[i])
				break;
		if (i == NCLIENTS)
			return 1;
		usleep(5000);
	}
	return 0;
}

/* Wait until every client saw a write fail while the daemon was down. */
static int clients_see_down(const long since[NCLIENTS])
{
	int i, k;

	for (k = 0; k < 4000; k++) {
		for (i = 0; i < NCLIENTS; i++)
			if (bd->cl[i].writes_down <= since[i])
				break;
		if (i == NCLIENTS)
			return 1;
		usleep(5000);
	}
	return 0;
}

static int no_bad(void)
{
	int i, bad = 0;

	for (i = 0; i < NCLIENTS; i++) {
		if (bd->cl[i].bad)
			diag("client %d: %ld bad, last code %d", i,
			     bd->cl[i].bad, bd->cl[i].last_bad_rc);
		bad += bd->cl[i].bad != 0;
	}
	return bad == 0;
}

/*
 * The largest mapping this process still has of a segment that was
 * unlinked (one of a daemon that is gone), from /proc/self/maps; 0 if
 * none.
 */
static long long old_mapped(const char *name)
{
	char line[512], pat[96];
	long long most = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return -1;
	snprintf(pat, sizeof(pat), "/kvshm-%s", name);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (strstr(line, pat) && strstr(line, "(deleted)") &&
		    sscanf(line, "%lx-%lx", &lo, &hi) == 2 &&
		    (long long)(hi - lo) > most)
			most = (long long)(hi - lo);
	}
	fclose(f);
	return most;
}

/* Reader threads of this process, across restarts (part 5). */
/* Shared between threads: atomics (ThreadSanitizer checks this test). */
static int readers_stop;
static long reader_reads[4], reader_bad[4];
static int reader_last_rc[4];
static kvshm_t *reader_handle;

static void *reader(void *arg)
{
	long i = (long)arg;

	while (!__atomic_load_n(&readers_stop, __ATOMIC_RELAXED)) {
		const void *v;
		size_t n;
		int rc = kvshm_read_lock(reader_handle);

		if (rc) {
			__atomic_add_fetch(&reader_bad[i], 1, __ATOMIC_RELAXED);
			__atomic_store_n(&reader_last_rc[i], rc, __ATOMIC_RELAXED);
			continue;
		}
		rc = kvshm_view(reader_handle, S("a"), &v, &n);
		if (rc || n != 1 || memcmp(v, "3", 1) != 0) {
			__atomic_add_fetch(&reader_bad[i], 1, __ATOMIC_RELAXED);
			__atomic_store_n(&reader_last_rc[i], rc ? rc : 1,
					 __ATOMIC_RELAXED);
		}
		kvshm_read_unlock(reader_handle);
		__atomic_add_fetch(&reader_reads[i], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Wait until every reader thread has read @more times since @since. */
static int readers_progress(const long since[4], long more)
{
	int i, k;

	for (k = 0; k < 4000; k++) {
		for (i = 0; i < 4; i++)
			if (__atomic_load_n(&reader_reads[i], __ATOMIC_RELAXED) <
			    since[i] + more)
				break;
		if (i == 4)
			return 1;
		usleep(5000);
	}
	return 0;
}

/* Part 6: a thread that read through one daemon, then reads again. */
static int go_pipe[2], done_pipe[2];

static void *two_reads(void *arg)
{
	char buf[8], b;
	size_t n;
	long rc;

	rc = kvshm_get(arg, "k", 1, buf, sizeof(buf), &n);
	if (write(done_pipe[1], "1", 1) != 1 || read(go_pipe[0], &b, 1) != 1)
		return (void *)-1L;
	rc = kvshm_get(arg, "k", 1, buf, sizeof(buf), &n);
	if (rc == 0)
		return (void *)(long)(n == 1 ? buf[0] : '?');
	return (void *)rc;
}

/* Part 7: a walk during which the daemon is replaced. */
static struct test_daemon *walk_d;
static unsigned char seen[1000];
static int walk_n;

static int walk_cb(const void *key, size_t klen, void *arg)
{
	char k[16];
	int i;

	(void)arg;
	if (klen > 2 && klen < sizeof(k) && memcmp(key, "w:", 2) == 0) {
		memcpy(k, key, klen);
		k[klen] = '\0';
		i = atoi(k + 2);
		if (i >= 0 && i < 1000)
			seen[i] = 1;
	}
	if (++walk_n == 500) {
		kill_kvshmd(walk_d);
		restart_kvshmd(walk_d, args);
	}
	return 0;
}

static void *first_read(void *arg)
{
	char buf[8];
	size_t n;

	return (void *)(long)kvshm_get(arg, S("a"), buf, sizeof(buf), &n);
}

int main(void)
{
	struct kvshm_open_opts strict = { .struct_size = sizeof(strict),
					  .flags = KVSHM_OPEN_NO_STALE };
	struct kvshm_open_opts bad = { .struct_size = sizeof(bad),
				       .flags = 0x100 };
	long since_ok[NCLIENTS], since_down[NCLIENTS];
	struct test_daemon d;
	kvshm_t *c, *s, *x;
	pid_t kids[NCLIENTS];
	pthread_t th;
	void *thr;
	int i, st, allok;

	plan_tests(34);
	bd = mmap(NULL, sizeof(*bd), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (bd == MAP_FAILED)
		bail_out("mmap: %s", strerror(errno));
	memset(bd, 0, sizeof(*bd));

	start_kvshmd(&d, "reattach", args);
	if (kvshm_open(&c, d.name, NULL) || kvshm_open(&s, d.name, &strict))
		bail_out("cannot open handles");
	ok(kvshm_open(&x, d.name, &bad) == KVSHM_EINVAL,
	   "an unknown open flag is KVSHM_EINVAL");
	ok(kvshm_set(c, S("a"), S("1"), 0, 0) == 0 && kv_has(c, "a", "1") &&
	   kv_has(s, "a", "1"), "a value is written and read through two handles");

	/* 1. A clean stop: stale reads, prompt write failures. */
	ok(term_kvshmd(&d) == 0, "kvshmd stops cleanly on SIGTERM");
	ok(kv_has(c, "a", "1"), "while it is down, a handle still reads the last value");
	ok(kvshm_get(s, S("a"), (char[8]){ 0 }, 8, NULL) == KVSHM_EDAEMON,
	   "a KVSHM_OPEN_NO_STALE handle gets KVSHM_EDAEMON instead");
	ok(kvshm_set(c, S("a"), S("2"), 0, 0) == KVSHM_EDAEMON,
	   "a write fails with KVSHM_EDAEMON");
	ok(kvshm_ping(c) == KVSHM_EDAEMON, "and so does a ping");
	pthread_create(&th, NULL, first_read, c);
	pthread_join(th, &thr);
	ok((long)thr == 0,
	   "a new thread's first read, its daemon known gone, reads it too");

	restart_kvshmd(&d, args);
	ok(kvshm_set(c, S("a"), S("3"), 0, 0) == 0,
	   "after a restart, the next write reattaches by itself and succeeds");
	ok(kv_has(c, "a", "3") && kv_has(s, "a", "3"),
	   "both handles read the new daemon's data");
	ok(stat_of(c, "reader_slots_used") == 2,
	   "the new daemon gave each handle's reading thread a slot");
	ok(old_mapped(d.name) == 0,
	   "nothing of the old segments is still mapped (their memory is freed)");
	pthread_create(&th, NULL, first_read, c);
	pthread_join(th, &thr);
	ok((long)thr == 0, "a new thread reads through the new daemon");

	/* 2. A crash: the segment is left in place, not marked. */
	kill_kvshmd(&d);
	ok(kv_has(c, "a", "3"), "after a SIGKILL, the handle reads the last value");
	ok(kvshm_set(c, S("a"), S("4"), 0, 0) == KVSHM_EDAEMON,
	   "a write fails with KVSHM_EDAEMON, promptly");
	restart_kvshmd(&d, args);
	ok(kv_has(c, "a", "3") && kv_has(s, "a", "3"),
	   "once a new kvshmd replaced it, reads reattach: the recovered value");
	ok(kvshm_ping(c) == 0, "and the write channel works again");

	/* 3. Live clients through a stop, a crash and another stop. */
	for (i = 0; i < NCLIENTS; i++) {
		fflush(stdout);
		kids[i] = fork();
		if (kids[i] == 0)
			client(d.name, i);
	}
	for (i = 0; i < NCLIENTS; i++)
		since_ok[i] = 0;
	ok(clients_write_again(since_ok), "3 client processes write and read");
	allok = 1;
	for (int round = 0; round < 3; round++) {
		for (i = 0; i < NCLIENTS; i++)
			since_down[i] = bd->cl[i].writes_down;
		if (round == 1)
			kill_kvshmd(&d);
		else if (term_kvshmd(&d) != 0)
			allok = 0;
		if (!clients_see_down(since_down))
			allok = 0;
		for (i = 0; i < NCLIENTS; i++)
			since_ok[i] = bd->cl[i].writes_ok;
		restart_kvshmd(&d, args);
		if (!clients_write_again(since_ok))
			allok = 0;
	}
	ok(allok, "each saw its writes fail while kvshmd was down (stop, "
	   "SIGKILL, stop) and succeed again after each restart");
	ok(no_bad(), "no read ever went back past an acknowledged write, "
	   "and every failure was KVSHM_EDAEMON");
	bd->stop = 1;
	allok = 1;
	for (i = 0; i < NCLIENTS; i++) {
		if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			allok = 0;
	}
	ok(allok, "the client processes exit cleanly");
	for (i = 0, allok = 1; i < NCLIENTS; i++) {
		char key[16], want[32];

		snprintf(key, sizeof(key), "k%d", i);
		snprintf(want, sizeof(want), "%ld", bd->cl[i].acked);
		allok &= kv_has(c, key, want);
	}
	ok(allok, "each client's last acknowledged value is what the cache holds");
	/* BYE is handled after kvshm_close() returns: poll, never sleep. */
	ok(wait_stat(c, "reader_slots_used", 1),
	   "their slots were released; this process's reading thread holds one");

	/* 4. A handle left unused through restarts catches up at once. */
	ok(kv_has(s, "a", "3") &&
	   stat_of(c, "reader_slots_used") == 2,
	   "a handle unused for three restarts reads the newest daemon's data");
	ok(old_mapped(d.name) == 0,
	   "after 5 restarts, no old segment is mapped any more");
	kvshm_close(s);
	ok(wait_stat(c, "reader_slots_used", 1),
	   "closing a reattached handle releases its slot on the new daemon");
	/* 5. Threads inside read sections while the daemon restarts. */
	{
		pthread_t rt[4];
		long since[4];
		int r, good = 1;

		reader_handle = c;
		for (i = 0; i < 4; i++)
			pthread_create(&rt[i], NULL, reader, (void *)(long)i);
		for (i = 0; i < 4; i++)
			since[i] = 0;
		good &= readers_progress(since, 100);
		for (r = 0; r < 2; r++) {
			if (r == 0)
				kill_kvshmd(&d);
			else
				good &= term_kvshmd(&d) == 0;
			for (i = 0; i < 4; i++)
				since[i] = __atomic_load_n(&reader_reads[i],
							   __ATOMIC_RELAXED);
			good &= readers_progress(since, 100);
			restart_kvshmd(&d, args);
			for (i = 0; i < 4; i++)
				since[i] = __atomic_load_n(&reader_reads[i],
							   __ATOMIC_RELAXED);
			good &= readers_progress(since, 100);
			/*
			 * Every thread on the new daemon before it goes away
			 * again: a thread still on the one before would need a
			 * slot from a daemon that is stopping, and get
			 * KVSHM_EDAEMON (never older data; libkvshm(3)).
			 */
			good &= wait_stat(c, "reader_slots_used", 4);
		}
		ok(good, "4 threads reading zero-copy views go on through a "
		   "SIGKILL and a stop, and each moves to the new daemon");
		__atomic_store_n(&readers_stop, 1, __ATOMIC_RELAXED);
		for (i = 0; i < 4; i++)
			pthread_join(rt[i], NULL);
		if (!ok(!reader_bad[0] && !reader_bad[1] && !reader_bad[2] &&
			!reader_bad[3], "no read failed and no view was ever wrong"))
			for (i = 0; i < 4; i++)
				diag("reader %d: %ld bad, last %d", i, reader_bad[i],
				     reader_last_rc[i]);
	}

	/*
	 * 6. Never older than acknowledged: thread R reads through daemon A;
	 * A is replaced by B, where the main thread stores k=2 (acked); B is
	 * SIGKILLed. R cannot get a slot from B and B is not known dead, so
	 * R's read fails; it must not fall back on A's k=1.
	 */
	{
		pthread_t r;
		char b;

		if (pipe(go_pipe) || pipe(done_pipe) ||
		    kvshm_set(c, S("k"), S("1"), 0, 0))
			bail_out("part 6 set-up");
		pthread_create(&r, NULL, two_reads, c);
		if (read(done_pipe[0], &b, 1) != 1)
			bail_out("part 6 reader");
		term_kvshmd(&d);
		restart_kvshmd(&d, args);
		ok(kvshm_set(c, S("k"), S("2"), 0, 0) == 0,
		   "k=2 is stored by the new daemon");
		kill_kvshmd(&d);
		if (write(go_pipe[1], "g", 1) != 1)
			bail_out("part 6 go");
		pthread_join(r, &thr);
		ok((long)thr == KVSHM_EDAEMON || (long)thr == '2',
		   "a thread bound to the daemon before never reads its older "
		   "k=1 (got %ld)", (long)thr);
		restart_kvshmd(&d, args);
	}

	/* 7. A walk over keys while the daemon is replaced under it. */
	{
		struct kvshm_kv kv[1000];
		char keys[1000][8];
		int n = 0;

		for (i = 0; i < 1000; i++) {
			snprintf(keys[i], sizeof(keys[i]), "w:%d", i);
			kv[i] = (struct kvshm_kv){ keys[i], strlen(keys[i]), "v", 1, 0 };
		}
		if ((n = kvshm_mset(c, kv, 1000)))
			bail_out("part 7 mset: %s", kvshm_strerror(n));
		walk_d = &d;
		ok(kvshm_keys(c, "w:*", walk_cb, NULL) == 0,
		   "kvshm_keys() completes although kvshmd was replaced midway");
		for (i = 0; i < 1000; i++)
			n += seen[i];
		ok(n == 1000, "every key was returned at least once (%d of 1000)", n);
	}

	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	kvshm_close(c);
	ok(old_mapped(d.name) == 0, "closing the handle unmaps every segment");
	cleanup_kvshmd(&d);
	return exit_status();
}
