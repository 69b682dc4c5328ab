// SPDX-License-Identifier: MIT
/*
 * tests/lib/daemon.c - one kvshmd per test (see daemon.h).
 */
#include <errno.h>
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

#include "daemon.h"
#include "../tap.h"

const char *build_path(const char *rel)
{
	static char buf[4096];
	const char *top = getenv("KVSHM_TEST_BUILDDIR");

	snprintf(buf, sizeof(buf), "%s/%s", top ? top : "..", rel);
	return buf;
}

void test_fault_env(const char *mode)
{
	static char *asan_before, *preload_before;
	static int set;
	const char *asan = getenv("ASAN_OPTIONS");
	const char *preload = getenv("LD_PRELOAD");
	char buf[4200];

	if (mode) {
		if (!set) {
			free(asan_before);
			free(preload_before);
			asan_before = asan ? strdup(asan) : NULL;
			preload_before = preload ? strdup(preload) : NULL;
		}
		set = 1;
		/* Ours first, so that its wrappers are the ones found. */
		snprintf(buf, sizeof(buf), "%s%s%s",
			 build_path("tests/.libs/libkvshmfault.so"),
			 preload_before ? " " : "",
			 preload_before ? preload_before : "");
		setenv("LD_PRELOAD", buf, 1);
		setenv("KVSHM_FAULT", mode, 1);
		/* ASan wants its runtime first; the fault library has to
		 * come first to be seen. */
		snprintf(buf, sizeof(buf), "%s%sverify_asan_link_order=0",
			 asan_before ? asan_before : "",
			 asan_before ? ":" : "");
		setenv("ASAN_OPTIONS", buf, 1);
		return;
	}
	if (!set)
		return;
	set = 0;
	if (preload_before)
		setenv("LD_PRELOAD", preload_before, 1);
	else
		unsetenv("LD_PRELOAD");
	unsetenv("KVSHM_FAULT");
	if (asan_before)
		setenv("ASAN_OPTIONS", asan_before, 1);
	else
		unsetenv("ASAN_OPTIONS");
}

int shm_exists(const char *name)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "/dev/shm/kvshm-%s", name);
	if (stat(p, &st) == 0)
		return 1;
	snprintf(p, sizeof(p), "/dev/shm/kvshm-%s.rw", name);
	return stat(p, &st) == 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A daemon that died leaves its segments: remove them and the data dir. */
static void remove_leftovers(struct test_daemon *d)
{
	char p[400];

	snprintf(p, sizeof(p), "/kvshm-%s", d->name);
	shm_unlink(p);
	snprintf(p, sizeof(p), "/kvshm-%s.rw", d->name);
	shm_unlink(p);
	snprintf(p, sizeof(p), "rm -rf '%s'", d->dir);
	if (system(p) != 0)
		diag("could not remove %s", d->dir);
}

/*
 * The kvshmds this process started and has not stopped, by copy (a test's
 * struct may be on a stack that is gone by exit time). A test that bails
 * out (exit()) while one runs would leave it serving, its segments in
 * /dev/shm; at exit the process that started them kills them and removes
 * their segments and data directories. Forked children (readers, which
 * may exit() too) have another PID and leave them alone.
 */
#define LIVE_MAX	16
static struct test_daemon live[LIVE_MAX];
static pid_t live_owner;

static void live_reap(void)
{
	int i;

	if (getpid() != live_owner)
		return;
	for (i = 0; i < LIVE_MAX; i++) {
		pid_t r;

		if (live[i].pid <= 0)
			continue;
		/* A test that reaped its daemon itself: not ours to kill
		 * (the PID may be another process's by now). */
		r = waitpid(live[i].pid, NULL, WNOHANG);
		if (r == 0) {
			kill(live[i].pid, SIGKILL);
			waitpid(live[i].pid, NULL, 0);
		}
		if (r == 0 || r == live[i].pid)
			remove_leftovers(&live[i]);
		live[i].pid = 0;
	}
}

static void live_add(const struct test_daemon *d)
{
	static int once;
	int i;

	if (!once) {
		live_owner = getpid();
		atexit(live_reap);
		once = 1;
	}
	for (i = 0; i < LIVE_MAX; i++)
		if (live[i].pid <= 0) {
			live[i] = *d;
			return;
		}
}

static void live_forget(pid_t pid)
{
	int i;

	for (i = 0; i < LIVE_MAX; i++)
		if (pid > 0 && live[i].pid == pid)
			live[i].pid = 0;
}

/*
 * launch - exec kvshmd on d->name and d->dir with @extra_args, its stderr
 * appended to DIR/kvshmd.log. Return 0 once a client can attach, or the
 * wait status if kvshmd exited first (it is then reaped); bail out if it
 * neither serves nor exits within 20 s.
 */
static int launch(struct test_daemon *d, const char *const *extra_args)
{
	const char *argv[40];
	char daemon_path[4096];
	char log[300];
	int i, n = 0;
	kvshm_t *c;

	snprintf(daemon_path, sizeof(daemon_path), "%s", build_path("daemon/kvshmd"));
	snprintf(log, sizeof(log), "%s/kvshmd.log", d->dir);
	argv[n++] = daemon_path;
	argv[n++] = "--foreground";
	argv[n++] = "--name";
	argv[n++] = d->name;
	argv[n++] = "--data-dir";
	argv[n++] = d->dir;
	for (i = 0; extra_args && extra_args[i] && n < 38; i++)
		argv[n++] = extra_args[i];
	argv[n] = NULL;

	fflush(stdout);
	d->pid = fork();
	if (d->pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (d->pid == 0) {
		if (!freopen(log, "a", stderr))
			_exit(127);
		execv(daemon_path, (char *const *)argv);
		_exit(127);
	}
	live_add(d);
	for (i = 0; i < 400; i++) {		/* 20 s at most */
		int st;

		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			live_forget(d->pid);
			d->pid = 0;
			return st ? st : -1;
		}
		if (kvshm_open(&c, d->name, NULL) == 0) {
			kvshm_close(c);
			return 0;
		}
		sleep_ms(50);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	live_forget(d->pid);
	remove_leftovers(d);
	bail_out("kvshmd %s did not come up", d->name);
}

static void show_log(const struct test_daemon *d)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "sed 's/^/# /' %s/kvshmd.log", d->dir);
	if (system(cmd) < 0)
		diag("could not show the log of %s", d->name);
}

void start_kvshmd(struct test_daemon *d, const char *tag,
		  const char *const *extra_args)
{
	int st;

	snprintf(d->name, sizeof(d->name), "t-%s-%d-%ld", tag, (int)getpid(),
		 (long)(time(NULL) % 100000));
	snprintf(d->dir, sizeof(d->dir), "/tmp/kvshm-test-XXXXXX");
	if (!mkdtemp(d->dir))
		bail_out("mkdtemp: %s", strerror(errno));
	st = launch(d, extra_args);
	if (st) {
		show_log(d);
		remove_leftovers(d);
		bail_out("kvshmd exited at start (status %d)", st);
	}
}

void restart_kvshmd(struct test_daemon *d, const char *const *extra_args)
{
	int st = launch(d, extra_args);

	if (st) {
		show_log(d);
		remove_leftovers(d);
		bail_out("kvshmd exited at restart (status %d)", st);
	}
}

int try_restart_kvshmd(struct test_daemon *d, const char *const *extra_args)
{
	int st = launch(d, extra_args);

	if (st == 0)
		return 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

void kill_kvshmd(struct test_daemon *d)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	live_forget(d->pid);
	d->pid = 0;
}

int term_kvshmd(struct test_daemon *d)
{
	int i, st = -1;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	for (i = 0; i < 2000; i++) {
		if (waitpid(d->pid, &st, WNOHANG) == d->pid)
			break;
		sleep_ms(10);
	}
	if (i == 2000) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &st, 0);
	}
	live_forget(d->pid);
	d->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void cleanup_kvshmd(struct test_daemon *d)
{
	kill_kvshmd(d);
	remove_leftovers(d);
}

long long stat_of(kvshm_t *c, const char *name)
{
	char *text, *p, key[64];
	long long v = -1;

	if (kvshm_stats(c, &text))
		return -1;
	snprintf(key, sizeof(key), "\n%s ", name);
	p = strstr(text, key);
	if (p)
		v = atoll(p + strlen(key));
	free(text);
	return v;
}

int wait_stat(kvshm_t *c, const char *name, long long want)
{
	int i;

	for (i = 0; i < 2000; i++) {
		if (stat_of(c, name) == want)
			return 1;
		sleep_ms(10);
	}
	return 0;
}

int stop_kvshmd(struct test_daemon *d)
{
	char cmd[400];
	int i, st = -1;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	for (i = 0; i < 1000; i++) {
		if (waitpid(d->pid, &st, WNOHANG) == d->pid)
			break;
		sleep_ms(10);
	}
	if (i == 1000) {
		diag("kvshmd %s ignored SIGTERM for 10 s: killing it", d->name);
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &st, 0);
		st = -1;
		/* its segments; the data dir goes below, after its log */
		snprintf(cmd, sizeof(cmd), "/kvshm-%s", d->name);
		shm_unlink(cmd);
		snprintf(cmd, sizeof(cmd), "/kvshm-%s.rw", d->name);
		shm_unlink(cmd);
	}
	live_forget(d->pid);
	d->pid = 0;
	if (st != 0) {
		snprintf(cmd, sizeof(cmd), "sed 's/^/# kvshmd: /' '%s/kvshmd.log'",
			 d->dir);
		if (system(cmd) < 0)
			diag("could not show the log");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
	if (system(cmd) != 0)
		diag("could not remove %s", d->dir);
	if (st < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}
