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

/* SIGTERM, wait (10 s at most, then SIGKILL); return its exit status or -1. */
int stop_kvshmd(struct test_daemon *d);

/* Path of a built program, e.g. "tools/kvshmctl". Static buffer. */
const char *build_path(const char *rel);

/* A counter from kvshm_stats() by name; -1 if absent or on error. */
struct kvshm;
long long stat_of(struct kvshm *c, const char *name);

/* Poll until stat @name == @want; 0 if it never did within 20 s. */
int wait_stat(struct kvshm *c, const char *name, long long want);

/* Does /dev/shm/kvshm-NAME (and .rw) exist? */
int shm_exists(const char *name);

#endif /* KVSHM_TEST_DAEMON_H */
