// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_slots.c - reader slots are a shared resource: one
 * client handle may hold at most --max-readers-per-client of them, so a
 * process with many threads cannot starve the others; a thread past the
 * cap gets KVSHM_ESYS with errno ENOSPC and the others go on; the slots
 * of exited threads are reused by the handle's next threads.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../tap.h"

static kvshm_t *c;
static pthread_barrier_t hold;

struct res {
	int rc;
	int err;
};

/* Read once (taking a slot), then wait so every thread holds its slot. */
static void *reader(void *arg)
{
	struct res *r = arg;
	char buf[8];
	size_t n;

	r->rc = kvshm_get(c, "k", 1, buf, sizeof(buf), &n);
	r->err = errno;
	pthread_barrier_wait(&hold);
	return NULL;
}

static int run_threads(int nt, struct res *res)
{
	pthread_t t[8];
	int i;

	pthread_barrier_init(&hold, NULL, (unsigned)nt);
	for (i = 0; i < nt; i++)
		pthread_create(&t[i], NULL, reader, &res[i]);
	for (i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&hold);
	return 0;
}

int main(void)
{
	static const char *const args[] = { "--max-readers", "16",
					     "--max-readers-per-client", "3",
					     NULL };
	struct res res[8];
	struct test_daemon d;
	int i, okc = 0, full = 0, st;
	pid_t pid;

	plan_tests(5);
	start_kvshmd(&d, "slots", args);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot open");
	kvshm_set(c, "k", 1, "v", 1, 0, 0);

	memset(res, 0, sizeof(res));
	run_threads(4, res);
	for (i = 0; i < 4; i++) {
		okc += res[i].rc == 0;
		full += res[i].rc == KVSHM_ESYS && res[i].err == ENOSPC;
	}
	ok(okc == 3 && full == 1,
	   "4 threads of one handle: 3 get a slot, 1 gets KVSHM_ESYS/ENOSPC");
	ok(stat_of(c, "reader_slots_used") == 3, "the handle holds exactly 3 slots");

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		kvshm_t *o;
		char buf[8];
		size_t n;

		if (kvshm_open(&o, d.name, NULL))
			_exit(1);
		_exit(kvshm_get(o, "k", 1, buf, sizeof(buf), &n) ? 1 : 0);
	}
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "another process still gets a slot and reads");

	memset(res, 0, sizeof(res));
	run_threads(3, res);
	ok(res[0].rc == 0 && res[1].rc == 0 && res[2].rc == 0 &&
	   stat_of(c, "reader_slots_used") == 3,
	   "new threads reuse the slots of exited ones");
	kvshm_close(c);
	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	return exit_status();
}
