// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_clients.c - kvshm_clients() and kvshmctl clients
 * list the processes attached to the daemon:
 *  - this process, flagged as the caller, with the reader slots its two
 *    reading threads took, and its uid and gid;
 *  - a child with a handle of its own and one slot, until it closes the
 *    handle: then it leaves the list;
 *  - a child that closed its socket behind the library's back (no BYE)
 *    and lives on: an orphan keeping its slot, until it exits;
 *  - kvshmctl clients shows this process with its slots.
 * Children are driven through pipes; every wait for the daemon polls with
 * a 20 s bound, nothing depends on timing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../tap.h"

static const char *name;

/* What the last listing said of one pid. */
struct seen {
	pid_t pid;
	int found;
	struct kvshm_client cl;
	int nclients;
	int nself;
};

static int look(const struct kvshm_client *cl, void *arg)
{
	struct seen *s = arg;

	s->nclients++;
	s->nself += !!(cl->flags & KVSHM_CLIENT_SELF);
	if (cl->pid == s->pid) {
		s->found++;
		s->cl = *cl;
	}
	return 0;
}

static int list(kvshm_t *c, pid_t pid, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	s->pid = pid;
	return kvshm_clients(c, look, s);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Poll (20 s at most) until @pid is listed @want times (0 or 1) and, if
 * listed, with @flags set and @slots slots. Return 1 if it happened.
 */
static int wait_for(kvshm_t *c, pid_t pid, int want, unsigned int flags,
		    unsigned int slots)
{
	struct seen s;
	int i;

	for (i = 0; i < 2000; i++) {
		if (list(c, pid, &s) == 0 && s.found == want &&
		    (!want || ((s.cl.flags & flags) == flags &&
			       s.cl.slots == slots)))
			return 1;
		sleep_ms(10);
	}
	diag("pid %d: listed %d times, flags %u, slots %u", (int)pid, s.found,
	     s.cl.flags, s.cl.slots);
	return 0;
}

static void *read_once(void *arg)
{
	kvshm_t *c = arg;
	char buf[8];
	size_t n;

	return (void *)(long)kvshm_get(c, "k", 1, buf, sizeof(buf), &n);
}

static char wait_byte(int fd)
{
	char ch = 0;

	while (read(fd, &ch, 1) < 0 && errno == EINTR)
		;
	return ch;
}

static void send_byte(int fd, char ch)
{
	if (write(fd, &ch, 1) != 1)
		_exit(3);
}

/*
 * A child: open a handle, read once (one slot), say 'r'; then on 'c'
 * close the handle (@orphan: close its socket instead, behind the
 * library's back) and say 'd'; exit on 'x'.
 */
static void child(int to, int from, int orphan)
{
	kvshm_t *c;
	char buf[8];
	size_t n;
	int fd;

	if (kvshm_open(&c, name, NULL) != 0 ||
	    kvshm_get(c, "k", 1, buf, sizeof(buf), &n) != 0)
		_exit(1);
	send_byte(to, 'r');
	if (wait_byte(from) != 'c')
		_exit(2);
	if (orphan) {
		/* Every socket we hold is the handle's write channel. */
		for (fd = 3; fd < 1024; fd++) {
			struct stat st;

			if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
				close(fd);
		}
	} else {
		kvshm_close(c);
	}
	send_byte(to, 'd');
	wait_byte(from);
	_exit(0);
}

static pid_t spawn(int *to, int *from, int orphan)
{
	int up[2], down[2];
	pid_t pid;

	if (pipe(up) || pipe(down))
		bail_out("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork");
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		child(up[1], down[0], orphan);
	}
	close(up[1]);
	close(down[0]);
	*from = up[0];
	*to = down[1];
	return pid;
}

static int stop_child(pid_t pid, int to, int from)
{
	int st;

	send_byte(to, 'x');
	close(to);
	close(from);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Does kvshmctl clients print a line for @pid with @slots and @state? */
static int ctl_lists(pid_t pid, unsigned int slots, const char *state)
{
	char cmd[8192], line[512], st[32];
	unsigned int s, uid, gid;
	int p, found = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' --name '%s' clients",
		 build_path("tools/kvshmctl"), name);
	f = popen(cmd, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%d %u %u %u %*u %*u %*u %*u %31s", &p, &uid,
			   &gid, &s, st) == 5 &&
		    p == (int)pid && s == slots && uid == getuid() &&
		    gid == getgid() && strcmp(st, state) == 0)
			found++;
	return pclose(f) == 0 && found == 1;
}

static int stop_at(const struct kvshm_client *cl, void *arg)
{
	(*(int *)arg)++;
	(void)cl;
	return 42;
}

int main(void)
{
	struct test_daemon d;
	int to, from, calls = 0;
	struct seen s;
	pthread_t t;
	void *trc;
	kvshm_t *c;
	pid_t pid;

	plan_tests(12);
	start_kvshmd(&d, "clients", NULL);
	name = d.name;
	if (kvshm_open(&c, d.name, NULL) != 0)
		bail_out("cannot open");
	kvshm_set(c, "k", 1, "v", 1, 0, 0);

	/* Two reading threads alive at once: two slots. */
	read_once(c);
	pthread_create(&t, NULL, read_once, c);
	pthread_join(t, &trc);
	ok(list(c, getpid(), &s) == 0 && s.found == 1 && s.nself == 1 &&
	   (s.cl.flags & KVSHM_CLIENT_SELF) &&
	   !(s.cl.flags & KVSHM_CLIENT_ORPHAN) && s.cl.slots == 2 &&
	   trc == NULL,
	   "this process is listed once, as the caller, with its 2 slots");
	ok(s.cl.uid == getuid() && s.cl.gid == getgid() &&
	   s.cl.struct_size == sizeof(struct kvshm_client),
	   "with our uid and gid, and the library's struct_size");
	ok(s.cl.requests >= 4 && s.cl.bytes_in > 0 && s.cl.bytes_out > 0 &&
	   s.cl.connected_ms < 600000,
	   "it counts our requests (hello, set, 2 slots...) and bytes");
	ok(kvshm_clients(c, stop_at, &calls) == 42 && calls == 1,
	   "a callback's non-zero return stops the walk and is returned");
	ok(ctl_lists(getpid(), 2, "open"),
	   "kvshmctl clients shows this process with 2 slots");

	pid = spawn(&to, &from, 0);
	ok(wait_byte(from) == 'r' && wait_for(c, pid, 1, 0, 1) &&
	   list(c, pid, &s) == 0 && !(s.cl.flags & KVSHM_CLIENT_SELF),
	   "a child with its own handle is listed with 1 slot");
	send_byte(to, 'c');
	ok(wait_byte(from) == 'd' && wait_for(c, pid, 0, 0, 0),
	   "once it closes its handle it leaves the list (alive still)");
	ok(stop_child(pid, to, from) == 0, "that child exits 0");

	pid = spawn(&to, &from, 1);
	wait_byte(from);
	send_byte(to, 'c');
	ok(wait_byte(from) == 'd' &&
	   wait_for(c, pid, 1, KVSHM_CLIENT_ORPHAN, 1) &&
	   wait_stat(c, "connections_orphaned", 1),
	   "a child that closed its socket without BYE is an orphan with "
	   "its slot");
	ok(ctl_lists(pid, 1, "orphan"), "kvshmctl clients shows it as orphan");
	ok(stop_child(pid, to, from) == 0 && wait_for(c, pid, 0, 0, 0) &&
	   wait_stat(c, "connections_orphaned", 0),
	   "when it exits, the orphan leaves the list");

	kvshm_close(c);
	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	return exit_status();
}
