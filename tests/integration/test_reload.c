// SPDX-License-Identifier: MIT
/*
 * integration/test_reload.c - SIGHUP: kvshmd reads its configuration file
 * again and applies what can change live.
 *
 *  1. A file that changes fsync, the eviction policy, the log level, the
 *     snapshot schedule, two limits that grow, and memory: the live ones
 *     change (config get, stats, kvshm_limits, a value over the old
 *     limit), memory does not, and the log says which needs a restart.
 *  2. A limit that would shrink stays, with a warning.
 *  3. A file with an error changes nothing, the log names its line, and
 *     the daemon keeps serving.
 *  4. --log-file: renamed away (logrotate), SIGHUP opens a new one.
 *
 * Every wait polls for its condition, 20 s at most: no sleeps that guess.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../tap.h"

static char tmp[] = "/tmp/kvshm-reload-XXXXXX";
static char conf[300], logf[300];

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Replace the configuration file whole (write, then rename). */
static void write_conf(const char *text)
{
	char t[320];
	FILE *f;

	snprintf(t, sizeof(t), "%s.tmp", conf);
	f = fopen(t, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(t, conf) < 0)
		bail_out("cannot write %s: %s", conf, strerror(errno));
}

/* The file @path, NUL-terminated and malloc()ed; "" if absent. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *p = NULL;
	size_t n = 0, cap = 0, r;

	do {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			p = realloc(p, cap);
			if (!p)
				bail_out("out of memory");
		}
		r = f ? fread(p + n, 1, cap - n - 1, f) : 0;
		n += r;
	} while (r > 0);
	p[n] = '\0';
	if (f)
		fclose(f);
	return p;
}

/* Lines of @path holding @what. */
static int count_in(const char *path, const char *what)
{
	char *text = slurp(path), *p = text;
	int n = 0;

	while ((p = strstr(p, what))) {
		n++;
		p += strlen(what);
	}
	free(text);
	return n;
}

/* Wait until @path holds @what at least @n times. */
static int wait_count(const char *path, const char *what, int n)
{
	int i;

	for (i = 0; i < 2000; i++) {
		if (count_in(path, what) >= n)
			return 1;
		sleep_ms(10);
	}
	diag("%s: '%s' seen %d times, not %d", path, what,
	     count_in(path, what), n);
	return 0;
}

/* Is @line (whole) among the lines of the daemon's config get? */
static int config_has(kvshm_t *c, const char *line)
{
	char *text, want[200];
	int found;

	if (kvshm_config_get(c, &text) != 0)
		return 0;
	snprintf(want, sizeof(want), "\n%s\n", line);
	found = strncmp(text, want + 1, strlen(want) - 1) == 0 ||
		strstr(text, want) != NULL;
	if (!found)
		diag("config get has no line '%s'", line);
	free(text);
	return found;
}

/* The log's line holding @event (the last one), for one check on it. */
static int line_has(const char *event, const char *const *parts)
{
	char *text = slurp(logf), *p, *last = NULL, *end;
	int ok_all = 1;

	for (p = text; (p = strstr(p, event)); p++)
		last = p;
	if (!last) {
		free(text);
		return 0;
	}
	end = strchr(last, '\n');
	if (end)
		*end = '\0';
	while (last > text && last[-1] != '\n')	/* the whole line */
		last--;
	for (; *parts; parts++)
		if (!strstr(last, *parts)) {
			diag("no '%s' in: %s", *parts, last);
			ok_all = 0;
		}
	free(text);
	return ok_all;
}

static const char conf1[] =
	"# test_reload: as at start\n"
	"memory 16M\n"
	"shards 16\n"
	"fsync everysec\n"
	"eviction noeviction\n"
	"log-level info\n"
	"snapshot-interval 3600\n"
	"max-entries 1000\n"
	"max-value 1M\n";

static const char conf2[] =
	"# test_reload: every live kind of change, and memory\n"
	"memory 32M\n"
	"shards 16\n"
	"fsync always\n"
	"eviction lru\n"
	"log-level debug\n"
	"snapshot-interval 60\n"
	"max-entries 2000\n"
	"max-value 2M\n";

/* conf2 but max-entries shrinks, and fsync leaves always. */
static const char conf3[] =
	"memory 32M\n"
	"shards 16\n"
	"fsync no\n"
	"eviction lru\n"
	"log-level debug\n"
	"snapshot-interval 60\n"
	"max-entries 500\n"
	"max-value 2M\n";

/* conf3 with a new policy, then a bad value on line 4. */
static const char conf4[] =
	"memory 32M\n"
	"eviction random\n"
	"shards 16\n"
	"fsync sometimes\n"
	"max-value 4M\n";

int main(void)
{
	const char *args[] = { "--config", conf, "--log-file", logf, NULL };
	struct kvshm_limits lim;
	struct test_daemon d;
	char *big, log1[320], buf[64];
	size_t vlen;
	kvshm_t *c;
	int rc;

	plan_tests(20);
	if (!mkdtemp(tmp))
		bail_out("mkdtemp: %s", strerror(errno));
	snprintf(conf, sizeof(conf), "%s/kvshmd.conf", tmp);
	snprintf(logf, sizeof(logf), "%s/kvshmd.log", tmp);
	write_conf(conf1);
	start_kvshmd(&d, "reload", args);
	if (kvshm_open(&c, d.name, NULL) != 0)
		bail_out("kvshm_open failed");

	ok(config_has(c, "fsync everysec") && config_has(c, "max-entries 1000") &&
	   config_has(c, "log-level info") && config_has(c, "memory 16777216"),
	   "the configuration file is in force at start");
	ok(wait_count(logf, "event=ready", 1),
	   "--log-file receives the daemon's lines");

	/* 1. Every live kind of change, and one for the next start. */
	write_conf(conf2);
	kill(d.pid, SIGHUP);
	ok(wait_count(logf, "event=config_reloaded", 1),
	   "SIGHUP reloads and logs one summary line");
	ok(config_has(c, "fsync always"), "fsync is now always (config get)");
	{
		char *text = NULL;

		ok(kvshm_stats(c, &text) == 0 &&
		   strstr(text, "\nwal_fsync always\n") &&
		   strstr(text, "\neviction_policy lru\n"),
		   "stats show fsync always and the lru policy");
		free(text);
	}
	ok(config_has(c, "eviction lru") && config_has(c, "log-level debug") &&
	   config_has(c, "snapshot-interval 60"),
	   "eviction, log level and snapshot interval changed live");
	ok(kvshm_limits(c, &lim) == 0 && lim.max_entries == 2000 &&
	   config_has(c, "max-entries 2000") &&
	   stat_of(c, "max_entries") == 2000,
	   "max-entries grew to 2000 (limits, config get, stats)");
	big = calloc(1, 1536 << 10);
	ok(big && kvshm_limits(c, &lim) == 0 && lim.max_value == 2U << 20 &&
	   kvshm_set(c, "big", 3, big, 1536 << 10, 0, 0) == 0 &&
	   kvshm_strlen(c, "big", 3, &vlen) == 0 && vlen == 1536 << 10,
	   "max-value grew: a 1.5 MiB value, refused before, is stored");
	free(big);
	ok(kvshm_limits(c, &lim) == 0 && lim.memory == 16U << 20 &&
	   config_has(c, "memory 16777216"),
	   "memory, which needs a restart, did not change");
	ok(line_has("event=config_needs_restart key=memory",
		    (const char *const[]){ "level=warning",
			    "configured=\"33554432\"", NULL }),
	   "the log warns that memory needs a restart");
	ok(line_has("event=config_reloaded",
		    (const char *const[]){ "level=info", " fsync=always",
			    " eviction=lru", " log-level=debug",
			    " snapshot-interval=60", " max-entries=2000",
			    " max-value=2097152", "restart_needed=memory",
			    NULL }),
	   "the summary names each change and what waits for a restart");

	/* 2. A limit never shrinks live; fsync leaves always. */
	write_conf(conf3);
	kill(d.pid, SIGHUP);
	ok(wait_count(logf, "event=config_reloaded", 2) &&
	   config_has(c, "max-entries 2000") &&
	   line_has("event=config_needs_restart key=max-entries",
		    (const char *const[]){ "running=\"2000\"",
			    "configured=\"500\"", NULL }),
	   "a smaller max-entries is not applied, with a warning");
	ok(config_has(c, "fsync no") && kvshm_set(c, "k", 1, "v", 1, 0, 0) == 0,
	   "fsync always -> no: writes are acknowledged");

	/* 3. An error anywhere: nothing changes, the daemon serves. */
	write_conf(conf4);
	kill(d.pid, SIGHUP);
	ok(wait_count(logf, "event=reload_failed", 1) &&
	   line_has("event=reload_failed",
		    (const char *const[]){ "level=error", "kvshmd.conf:4:",
			    "'sometimes'", "action=keep_running_config",
			    NULL }),
	   "a bad value on reload is logged with its file and line");
	ok(config_has(c, "eviction lru") && config_has(c, "fsync no") &&
	   kvshm_limits(c, &lim) == 0 && lim.max_value == 2U << 20,
	   "a broken file changes nothing, not even the settings before the error");
	ok(kvshm_ping(c) == 0 && kvshm_set(c, "after", 5, "x", 1, 0, 0) == 0 &&
	   kvshm_get(c, "after", 5, buf, sizeof(buf), &vlen) == 0 && vlen == 1,
	   "the daemon keeps serving after a failed reload");

	/* 4. logrotate: rename the file, SIGHUP, a new file at the path. */
	write_conf(conf3);
	snprintf(log1, sizeof(log1), "%s.1", logf);
	if (rename(logf, log1) < 0)
		bail_out("rename %s: %s", logf, strerror(errno));
	kill(d.pid, SIGHUP);
	ok(wait_count(logf, "event=config_reloaded", 1),
	   "after a rename and SIGHUP the log file is created again");
	ok(count_in(log1, "event=ready") == 1 &&
	   count_in(log1, "event=config_reloaded") == 2 &&
	   count_in(logf, "event=ready") == 0,
	   "the renamed file keeps the old lines, the new one gets the new");
	{
		char *text = slurp(logf);
		char pidtag[32];

		snprintf(pidtag, sizeof(pidtag), " kvshmd[%d]: level=", (int)d.pid);
		/* 2026-11-23T18:19:00.123+01:00 kvshmd[PID]: level=... */
		ok(strlen(text) > 30 && text[4] == '-' && text[10] == 'T' &&
		   text[19] == '.' && (text[23] == '+' || text[23] == '-') &&
		   strncmp(text + 29, pidtag, strlen(pidtag)) == 0,
		   "each line of the file starts with a timestamp and the PID");
		if (text[0])
			diag("first line: %.*s", (int)strcspn(text, "\n"), text);
		free(text);
	}

	kvshm_close(c);
	rc = stop_kvshmd(&d);
	ok(rc == 0, "kvshmd exits 0 on SIGTERM");
	if (tap_failed) {
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "sed 's/^/# /' '%s' '%s'", log1, logf);
		if (system(cmd) < 0)
			diag("could not show the log");
	}
	snprintf(log1, sizeof(log1), "rm -rf '%s'", tmp);
	if (system(log1) != 0)
		diag("could not remove %s", tmp);
	return exit_status();
}
