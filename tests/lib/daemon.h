/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/daemon.h - start and stop a real kvshmd for one test, under a
 * name unique to this process and test, with a private data directory.
 * Stopped by PID, never by name; its segments and directory are removed.
 */
#ifndef KVSHM_TEST_DAEMON_H
#define KVSHM_TEST_DAEMON_H

#include <sys/types.h>

struct test_daemon {
	pid_t pid;
	char name[64];
	char dir[256];
};

/*
 * start_kvshmd - fork/exec the kvshmd of the build tree (KVSHM_TEST_BUILDDIR)
 * in the foreground with @extra_args (NULL-terminated, may be NULL) and wait
 * until kvshm_open() succeeds. Bails out of the test on failure.
 */
void start_kvshmd(struct test_daemon *d, const char *tag,
		  const char *const *extra_args);

/*
 * For restart tests: the same name and data directory again. restart_
 * bails out if kvshmd does not come up; try_restart_ returns 0 if it
 * serves, else its exit status (the log is DIR/kvshmd.log).
 */
void restart_kvshmd(struct test_daemon *d, const char *const *extra_args);
int try_restart_kvshmd(struct test_daemon *d, const char *const *extra_args);
/* SIGKILL and reap, leaving segments and files as a crash does. */
void kill_kvshmd(struct test_daemon *d);
/* SIGTERM and reap (20 s at most), keeping the data directory. Return the
 * exit status or -1. */
int term_kvshmd(struct test_daemon *d);
/* Kill if running; remove segments and the data directory. */
void cleanup_kvshmd(struct test_daemon *d);

/* SIGTERM, wait (10 s at most, then SIGKILL); return its exit status or -1. */
int stop_kvshmd(struct test_daemon *d);

/* Path of a built program, e.g. "tools/kvshmctl". Static buffer. */
const char *build_path(const char *rel);

/* A counter from kvshm_stats() by name; -1 if absent or on error. */
struct kvshm;
long long stat_of(struct kvshm *c, const char *name);

/* Poll until stat @name == @want; 0 if it never did within 20 s. */
int wait_stat(struct kvshm *c, const char *name, long long want);

/*
 * test_fault_env - until called again with NULL, every kvshmd started
 * gets tests/lib/fault.c preloaded with KVSHM_FAULT=@mode (see there).
 */
void test_fault_env(const char *mode);

/* Does /dev/shm/kvshm-NAME (and .rw) exist? */
int shm_exists(const char *name);

#endif /* KVSHM_TEST_DAEMON_H */
