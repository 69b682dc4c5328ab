// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_races.c - concurrent writers on the same keys:
 * four processes race SET NX on each of 200 keys and exactly one wins
 * each; four processes INCR one counter 10,000 times each and it ends at
 * exactly 40,000.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../tap.h"

#define NPROC	4
#define NKEYS	200
#define NINCR	10000

static const char *name;

/* Each process tries NX on every key; its count of wins goes to @fd. */
static int nx_main(int id, int fd)
{
	char key[32], val[8];
	int k, wins = 0, bad = 0;
	kvshm_t *c;

	if (kvshm_open(&c, name, NULL))
		return 2;
	snprintf(val, sizeof(val), "p%d", id);
	for (k = 0; k < NKEYS; k++) {
		int n = snprintf(key, sizeof(key), "nx:%d", k);
		int rc = kvshm_set(c, key, (size_t)n, val, strlen(val), 0, KVSHM_NX);

		if (rc == 0)
			wins++;
		else if (rc != KVSHM_EEXISTS)
			bad++;
	}
	kvshm_close(c);
	if (write(fd, &wins, sizeof(wins)) != sizeof(wins))
		return 3;
	return bad ? 1 : 0;
}

static int incr_main(void)
{
	kvshm_t *c;
	int i, bad = 0;

	if (kvshm_open(&c, name, NULL))
		return 2;
	for (i = 0; i < NINCR; i++)
		if (kvshm_incr(c, "counter", 7, 1, NULL))
			bad++;
	kvshm_close(c);
	return bad ? 1 : 0;
}

int main(void)
{
	struct test_daemon d;
	int p[2], i, st, sum = 0, okall = 1, k, winners_ok = 1;
	pid_t pid[NPROC];
	char buf[32], key[32];
	size_t vlen;
	kvshm_t *c;

	plan_tests(4);
	start_kvshmd(&d, "races", NULL);
	name = d.name;
	if (pipe(p))
		bail_out("pipe");
	fflush(stdout);
	for (i = 0; i < NPROC; i++)
		if ((pid[i] = fork()) == 0)
			_exit(nx_main(i, p[1]));
	for (i = 0; i < NPROC; i++) {
		int w = 0;

		waitpid(pid[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			okall = 0;
		if (read(p[0], &w, sizeof(w)) == sizeof(w))
			sum += w;
	}
	ok(okall && sum == NKEYS,
	   "%d processes racing SET NX on %d keys win exactly %d times (%d)",
	   NPROC, NKEYS, NKEYS, sum);
	if (kvshm_open(&c, name, NULL))
		bail_out("cannot open");
	for (k = 0; k < NKEYS; k++) {
		int n = snprintf(key, sizeof(key), "nx:%d", k);

		if (kvshm_get(c, key, (size_t)n, buf, sizeof(buf), &vlen) ||
		    vlen != 2 || buf[0] != 'p')
			winners_ok = 0;
	}
	ok(winners_ok, "every key holds the value of the one process that won it");

	fflush(stdout);
	for (i = 0; i < NPROC; i++)
		if ((pid[i] = fork()) == 0)
			_exit(incr_main());
	for (i = 0, okall = 1; i < NPROC; i++) {
		waitpid(pid[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			okall = 0;
	}
	ok(okall && kvshm_get(c, "counter", 7, buf, sizeof(buf), &vlen) == 0 &&
	   vlen == 5 && memcmp(buf, "40000", 5) == 0,
	   "INCR from %d processes x %d gives exactly %d", NPROC, NINCR,
	   NPROC * NINCR);
	kvshm_close(c);
	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	return exit_status();
}
