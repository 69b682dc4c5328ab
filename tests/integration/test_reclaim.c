// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_reclaim.c - replaced and deleted items are freed
 * only after a cross-process grace period:
 *  - a value viewed inside a read section stays intact while the daemon
 *    replaces it again and again and reuses memory for other items;
 *  - the retired items are freed once the section ends;
 *  - a reader process SIGKILLed inside a section does not pin memory: its
 *    slot is released when its connection closes;
 *  - a live reader stuck in a section is reported in stats.
 * Waits poll the daemon's stats with generous bounds; nothing depends on
 * timing to pass.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../lib/kv.h"
#include "../tap.h"

#define VLEN	1000

static void churn(kvshm_t *c, int rounds)
{
	kv_churn(c, "held", VLEN, rounds);
}

int main(void)
{
	static const char *const args[] = { "--memory", "16M",
					    "--reader-revoke-ms", "0", NULL };
	struct test_daemon d;
	char orig[VLEN], buf[VLEN];
	const void *view;
	size_t vlen;
	kvshm_t *c;
	int p2c[2], c2p[2], st;
	long long used0, stalled;
	pid_t child;
	char b;

	plan_tests(21);
	start_kvshmd(&d, "reclaim", args);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot open");

	memset(orig, 'Z', VLEN);
	kvshm_set(c, "held", 4, orig, VLEN, 0, 0);
	ok(kvshm_read_lock(c) == 0 && kvshm_view(c, "held", 4, &view, &vlen) == 0 &&
	   vlen == VLEN, "a view of the value is taken inside a read section");
	churn(c, 3000);
	ok(memcmp(view, orig, VLEN) == 0,
	   "the viewed value is intact after 3000 replacements and deletes");
	ok(stat_of(c, "retired_pending") > 0,
	   "replaced items wait for the open read section");
	ok(kvshm_get(c, "held", 4, buf, VLEN, &vlen) == 0 && buf[0] != 'Z',
	   "a new read inside the section sees the latest value");
	kvshm_read_unlock(c);
	ok(wait_stat(c, "retired_pending", 0),
	   "after the section ends every retired item is freed");
	used0 = stat_of(c, "memory_used");

	/* A child enters a section and is killed inside it. */
	if (pipe(p2c) || pipe(c2p))
		bail_out("pipe");
	fflush(stdout);
	child = fork();
	if (child == 0) {
		kvshm_t *cc;

		if (kvshm_open(&cc, d.name, NULL) || kvshm_read_lock(cc))
			_exit(1);
		if (write(c2p[1], "R", 1) != 1)
			_exit(1);
		if (read(p2c[0], &b, 1) < 0)	/* never answered: killed */
			_exit(1);
		_exit(0);
	}
	ok(read(c2p[0], &b, 1) == 1, "a child process is inside a read section");
	churn(c, 500);
	ok(stat_of(c, "retired_pending") > 0,
	   "its section holds back reclamation");
	ok(wait_stat(c, "readers_stalled", 1),
	   "a reader stuck in a section for over a second is reported in stats");
	stalled = stat_of(c, "reader_slots_used");
	kill(child, SIGKILL);
	waitpid(child, &st, 0);
	ok(WIFSIGNALED(st), "the reader is SIGKILLed mid-read");
	ok(wait_stat(c, "retired_pending", 0) &&
	   wait_stat(c, "readers_stalled", 0),
	   "its slot is released and reclamation goes on");
	ok(stat_of(c, "reader_slots_used") == stalled - 1,
	   "the dead reader's slot is back in the pool");
	ok(stat_of(c, "memory_used") == used0,
	   "used memory returns to what it was before the churn");

	/*
	 * A write that times out breaks the handle's channel, but must not
	 * give up its reader slot: its threads may still be reading.
	 */
	{
		struct kvshm_open_opts o = { .struct_size = sizeof(o),
					     .timeout_ms = 300 };
		long long slots;
		kvshm_t *t;

		if (kvshm_open(&t, d.name, &o) ||
		    kvshm_get(t, "held", 4, buf, VLEN, &vlen))
			bail_out("cannot open a handle with a timeout");
		slots = stat_of(c, "reader_slots_used");
		kill(d.pid, SIGSTOP);
		ok(kvshm_set(t, "k", 1, "v", 1, 0, 0) == KVSHM_EDAEMON,
		   "a write to a stopped daemon times out with KVSHM_EDAEMON");
		kill(d.pid, SIGCONT);
		ok(stat_of(c, "reader_slots_used") == slots,
		   "the timed-out handle keeps its reader slot");
		ok(kvshm_set(t, "k", 1, "v", 1, 0, 0) == 0 &&
		   stat_of(c, "connections") == 3,
		   "its next request opens a new connection, and succeeds");
		ok(kvshm_get(t, "held", 4, buf, VLEN, &vlen) == 0 &&
		   stat_of(c, "reader_slots_used") == slots,
		   "it still reads through the slot of the old connection");
		kvshm_close(t);
		ok(wait_stat(c, "reader_slots_used", slots - 1) &&
		   wait_stat(c, "connections", 1),
		   "closing it releases the slot and both connections");
	}
	/*
	 * A process whose connection closes without kvshm_close() (here: it
	 * closes every descriptor behind the library's back) keeps its slot
	 * until it exits: one of its threads may still be reading.
	 */
	{
		long long slots = stat_of(c, "reader_slots_used");
		int go[2], done[2], fd;
		pid_t pid;

		if (pipe(go) || pipe(done))
			bail_out("pipe");
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			kvshm_t *cc;

			if (kvshm_open(&cc, d.name, NULL) ||
			    kvshm_get(cc, "held", 4, buf, VLEN, &vlen))
				_exit(1);
			for (fd = 3; fd < 1024; fd++)
				if (fd != go[0] && fd != done[1])
					close(fd);
			if (write(done[1], "C", 1) != 1 ||
			    read(go[0], &b, 1) != 1)
				_exit(1);
			_exit(kvshm_get(cc, "held", 4, buf, VLEN, &vlen) ? 1 : 0);
		}
		ok(read(done[0], &b, 1) == 1 &&
		   wait_stat(c, "connections", 1) &&
		   stat_of(c, "reader_slots_used") == slots + 1,
		   "a live process whose socket closed without BYE keeps its slot");
		if (write(go[1], "G", 1) != 1)
			diag("could not signal the child");
		waitpid(pid, &st, 0);
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "it still reads through that slot");
		ok(wait_stat(c, "reader_slots_used", slots),
		   "the slot is released when the process exits");
	}
	kvshm_close(c);
	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	return exit_status();
}
