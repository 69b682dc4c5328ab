// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_access.c - who may attach and who may write.
 *
 * kvshmd runs as root with --group 65534 (nogroup on Debian); client
 * processes switch to other users: nobody (uid 65534, in the group), a
 * user in the group only through a supplementary group, and a user in
 * neither. Attaching is decided by the segments' and the socket's group
 * and modes; writing by --writers, checked from the peer credentials.
 * The data segment can never be written by a client: not by opening it
 * read-write, not through the read-only mapping the library makes.
 *
 * Last, a handle whose daemon stopped never reattaches to a daemon of
 * another user that took the name over (KVSHM_EPERM), nor to a segment
 * of another layout version (KVSHM_EVERSION), and never reads their data.
 *
 * Needs root (to switch users); skipped otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../tap.h"
#include "layout.h"

#define S(x) x, strlen(x)
#define GRP	65534		/* the daemon's --group */
#define NOBODY	65534

/* What a client process found, in its exit status (bits). */
enum {
	R_OPEN_PERM	= 1,	/* kvshm_open: KVSHM_EPERM */
	R_READ_OK	= 2,	/* read "k" == "v" */
	R_WRITES_PERM	= 4,	/* set, del, batch, snapshot: all KVSHM_EPERM */
	R_WRITES_OK	= 8,	/* set and del succeeded */
	R_NO_RDWR	= 16,	/* shm_open(data, O_RDWR) refused */
	R_OTHER		= 64,	/* anything else */
};

static char name[64];

/* Become @uid/@gid with supplementary groups @groups (n of them). */
static void become(uid_t uid, gid_t gid, const gid_t *groups, size_t n)
{
	if (setgroups(n, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
		_exit(R_OTHER);
}

static int client_body(void)
{
	struct kvshm_batch_op op = { KVSHM_BATCH_PUT, 0, "b", 1, "1", 1, 0, 0 };
	struct kvshm_kv kv = { "m", 1, "1", 1, 0 };
	int64_t i64;
	char shm[96], buf[8];
	int r = 0, rc, fd;
	size_t n, failed;
	kvshm_t *c;

	snprintf(shm, sizeof(shm), "/kvshm-%s", name);
	fd = shm_open(shm, O_RDWR, 0);
	if (fd < 0 && errno == EACCES)
		r |= R_NO_RDWR;
	else if (fd >= 0)
		close(fd);
	rc = kvshm_open(&c, name, NULL);
	if (rc == KVSHM_EPERM)
		return r | R_OPEN_PERM;
	if (rc)
		return r | R_OTHER;
	if (kvshm_get(c, S("k"), buf, sizeof(buf), &n) == 0 && n == 1 &&
	    buf[0] == 'v')
		r |= R_READ_OK;
	rc = kvshm_set(c, S("w"), S("1"), 0, 0);
	if (rc == 0 && kvshm_del(c, S("w")) == 0)
		r |= R_WRITES_OK;
	else if (rc == KVSHM_EPERM && kvshm_del(c, S("k")) == KVSHM_EPERM &&
		 kvshm_batch(c, &op, 1, &failed) == KVSHM_EPERM &&
		 kvshm_snapshot(c, NULL) == KVSHM_EPERM &&
		 kvshm_incr(c, S("n"), 1, &i64) == KVSHM_EPERM &&
		 kvshm_mset(c, &kv, 1) == KVSHM_EPERM &&
		 kvshm_append(c, S("k"), S("x"), &n) == KVSHM_EPERM &&
		 kvshm_expire(c, S("k"), 1) == KVSHM_EPERM &&
		 kvshm_cas(c, S("k"), S("x"), 0, 0, NULL) == KVSHM_EPERM &&
		 kvshm_flush(c, NULL) == KVSHM_EPERM &&
		 kvshm_config_set(c, "eviction", "lru") == KVSHM_EPERM &&
		 kvshm_ping(c) == 0)
		r |= R_WRITES_PERM;
	else
		r |= R_OTHER;
	kvshm_close(c);
	return r;
}

/* Run client_body() as @uid/@gid (+@groups); return its result bits. */
static int client_as(uid_t uid, gid_t gid, const gid_t *groups, size_t n)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		become(uid, gid, groups, n);
		_exit(client_body());
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return R_OTHER;
	return WEXITSTATUS(st);
}

/* As nobody: store a byte through a value the library gives in place. */
static int store_through_view_faults(void)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		const void *v;
		kvshm_t *c;
		size_t n;

		become(NOBODY, GRP, NULL, 0);
		if (kvshm_open(&c, name, NULL) || kvshm_read_lock(c) ||
		    kvshm_view(c, S("k"), &v, &n))
			_exit(1);
		signal(SIGSEGV, SIG_DFL);
		*(volatile char *)v = 'X';	/* must fault */
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid)
		return 0;
	return WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV ||
				   WTERMSIG(st) == SIGBUS);
}

static int mode_group(const char *path, mode_t mode, gid_t gid)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return 0;
	return (st.st_mode & 07777) == mode && st.st_gid == gid;
}

/* Does `kvshmd ARGS --check-config` print @line? Exit status in *@st. */
static int check_config(const char *args, const char *line, int *st)
{
	char cmd[1024], out[4096];
	size_t n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s %s --check-config 2>&1",
		 build_path("daemon/kvshmd"), args);
	f = popen(cmd, "r");
	if (!f)
		return 0;
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	*st = pclose(f);
	return strstr(out, line) != NULL;
}

/* kvshmd as nobody, serving @name from @dir; its pid. */
static pid_t kvshmd_as_nobody(const char *name, const char *dir)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		become(NOBODY, GRP, NULL, 0);
		execl(build_path("daemon/kvshmd"), "kvshmd", "--foreground",
		      "--name", name, "--data-dir", dir, "--persistence",
		      "none", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Poll (20 s at most) until @name's segment and @sock exist. */
static int wait_served(const char *name, const char *sock)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < 2000; i++) {
		if (shm_exists(name) && access(sock, F_OK) == 0)
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

/*
 * The handle @c was attached to root's kvshmd for @d, now stopped. Another
 * user's daemon serves the name, then a segment of another layout version
 * sits under it: @c must refuse both. 3 tests.
 */
static void foreign_takeover(struct test_daemon *d, kvshm_t *c)
{
	alignas(KVS_CACHELINE) static char hdr[4096];
	struct kvs_header *h = (struct kvs_header *)hdr;
	char dir[320], sock[400], shm[96], buf[16];
	kvshm_t *c2 = NULL;
	struct stat sb;
	size_t n = 0;
	int fd, rc, rc2, st;
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/nobody", d->dir);
	snprintf(sock, sizeof(sock), "%s/kvshmd.sock", dir);
	snprintf(shm, sizeof(shm), "/dev/shm/kvshm-%s", d->name);
	if (mkdir(dir, 0700) < 0 || chown(dir, NOBODY, GRP) < 0)
		bail_out("%s: %s", dir, strerror(errno));
	pid = kvshmd_as_nobody(d->name, dir);
	if (pid < 0 || !wait_served(d->name, sock))
		bail_out("kvshmd as nobody did not start");
	/* A fresh handle knows no owner: it attaches to nobody's daemon. */
	if (kvshm_open(&c2, d->name, NULL) ||
	    kvshm_set(c2, S("k"), S("theirs"), 0, 0))
		bail_out("cannot write to nobody's kvshmd");
	rc = kvshm_set(c, S("x"), S("1"), 0, 0);
	rc2 = kvshm_get(c, S("k"), buf, sizeof(buf), &n);
	ok(rc == KVSHM_EPERM && !(rc2 == 0 && n == 6 && !memcmp(buf, "theirs", 6)),
	   "a handle never reattaches to another user's daemon under the name: "
	   "its write gets KVSHM_EPERM (got %d), its read never sees that "
	   "daemon's data", rc);

	/* The same segment, but from another layout version. */
	fd = open(shm, O_RDONLY);
	if (fd < 0 || fstat(fd, &sb) < 0 ||
	    read(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr))
		bail_out("%s: %s", shm, strerror(errno));
	close(fd);
	kvshm_close(c2);
	kill(pid, SIGTERM);
	ok(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
	   !shm_exists(d->name), "nobody's kvshmd stops and removes its segments");
	h->layout_version++;
	h->generation++;
	fd = open(shm, O_RDWR | O_CREAT | O_EXCL, 0640);
	if (fd < 0 || write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) ||
	    ftruncate(fd, sb.st_size) < 0)
		bail_out("%s: %s", shm, strerror(errno));
	close(fd);
	rc = kvshm_set(c, S("x"), S("1"), 0, 0);
	ok(rc == KVSHM_EVERSION,
	   "nor to a segment of another layout version: KVSHM_EVERSION (got %d)",
	   rc);
	unlink(shm);
	rmdir(dir);
}

int main(void)
{
	static const char *const a1[] = { "--group", "65534", "--writers", "root",
					  NULL };
	static const char *const a2[] = { "--group", "nogroup", "--writers",
					  "@65534", "--data-mode", "0600",
					  NULL };
	static const char *const a3[] = { "--group", "65534", "--writers",
					  "nobody", NULL };
	const gid_t sup[] = { GRP };
	struct test_daemon d;
	char path[400], buf[8];
	kvshm_t *c;
	size_t n;
	int st, r;

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root to run clients as other users\n");
		return 0;
	}
	plan_tests(25);

	start_kvshmd(&d, "access", a1);
	snprintf(name, sizeof(name), "%s", d.name);
	/* The test's data directory is private; let others reach the socket. */
	if (chmod(d.dir, 0711) < 0)
		bail_out("chmod %s: %s", d.dir, strerror(errno));
	if (kvshm_open(&c, d.name, NULL) || kvshm_set(c, S("k"), S("v"), 0, 0))
		bail_out("cannot write as root");

	snprintf(path, sizeof(path), "/dev/shm/kvshm-%s", d.name);
	ok(mode_group(path, 0640, GRP),
	   "the data segment is mode 0640, group --group");
	snprintf(path, sizeof(path), "/dev/shm/kvshm-%s.rw", d.name);
	ok(mode_group(path, 0660, GRP), "the reader area is mode 0660, group --group");
	snprintf(path, sizeof(path), "%s/kvshmd.sock", d.dir);
	ok(mode_group(path, 0660, GRP),
	   "the socket is mode 0660, group --group");

	r = client_as(NOBODY, GRP, NULL, 0);
	ok((r & ~R_NO_RDWR) == (R_READ_OK | R_WRITES_PERM),
	   "a group member not in --writers attaches and reads; its set, del, "
	   "batch, snapshot, incr, mset, append, expire, cas, flush and config "
	   "set get KVSHM_EPERM (and ping works)");
	ok(r & R_NO_RDWR, "it cannot open the data segment for writing");
	ok(kvshm_get(c, S("k"), buf, sizeof(buf), &n) == 0 && n == 1 &&
	   buf[0] == 'v' && kvshm_exists(c, S("b")) == KVSHM_ENOTFOUND,
	   "nothing it tried changed the data");
	ok(store_through_view_faults(),
	   "a store through a value viewed in place faults (mapped read-only)");
	r = client_as(4242, 4242, sup, 1);
	ok(r == (R_READ_OK | R_WRITES_PERM | R_NO_RDWR),
	   "a member through a supplementary group attaches, reads, may not write");
	r = client_as(4243, 4243, NULL, 0);
	ok(r == (R_OPEN_PERM | R_NO_RDWR),
	   "a user outside the group cannot attach: KVSHM_EPERM");
	ok(kvshm_set(c, S("k2"), S("v"), 0, 0) == 0,
	   "root, the daemon's user, may always write");

	/* --writers by group, names resolved; a stricter data mode. */
	kvshm_close(c);
	ok(term_kvshmd(&d) == 0, "kvshmd stops");
	restart_kvshmd(&d, a2);
	if (kvshm_open(&c, d.name, NULL) || kvshm_set(c, S("k"), S("v"), 0, 0))
		bail_out("cannot write as root");
	snprintf(path, sizeof(path), "/dev/shm/kvshm-%s", d.name);
	ok(mode_group(path, 0600, GRP), "--data-mode 0600 and --group by name");
	r = client_as(4242, 4242, sup, 1);
	ok(r == (R_OPEN_PERM | R_NO_RDWR),
	   "with the data 0600, group members cannot attach either");
	kvshm_close(c);
	ok(term_kvshmd(&d) == 0, "kvshmd stops");

	/* --writers by user name. */
	restart_kvshmd(&d, a3);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot attach as root");
	r = client_as(NOBODY, GRP, NULL, 0);
	ok((r & ~R_NO_RDWR) == (R_READ_OK | R_WRITES_OK),
	   "--writers nobody: nobody writes");
	r = client_as(4242, 4242, sup, 1);
	ok(r == (R_READ_OK | R_WRITES_PERM | R_NO_RDWR),
	   "and a group member who is not nobody may not");
	kvshm_close(c);
	ok(term_kvshmd(&d) == 0, "kvshmd stops");

	{
		static const char *const a4[] = { "--group", "65534", "--writers",
						  "@65534", NULL };

		restart_kvshmd(&d, a4);
		r = client_as(4242, 4242, sup, 1);
		ok(r == (R_READ_OK | R_WRITES_OK | R_NO_RDWR),
		   "--writers @group: a member through a supplementary group writes");
		ok(term_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	}

	ok(check_config("--group nogroup --writers root,@nogroup", "writers 0,@65534",
			&st) && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "--check-config shows the writers as ids");
	ok(check_config("--data-mode 0664", "must not be writable by group or "
			"others", &st) && WEXITSTATUS(st) != 0,
	   "a data mode writable by others is refused");
	ok(check_config("--writers @no-such-group-kvshm", "no such group", &st) &&
	   WEXITSTATUS(st) != 0, "an unknown group in --writers is refused");

	restart_kvshmd(&d, a1);
	if (kvshm_open(&c, d.name, NULL) || kvshm_set(c, S("k"), S("ours"), 0, 0))
		bail_out("cannot write as root");
	if (term_kvshmd(&d) != 0)
		bail_out("kvshmd did not stop");
	foreign_takeover(&d, c);
	kvshm_close(c);
	cleanup_kvshmd(&d);
	return exit_status();
}
