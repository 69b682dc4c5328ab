// SPDX-License-Identifier: MIT
/*
 * daemon/log.c - kvshmd logging: the --log-file if set, else stderr in the
 * foreground and syslog when detached. Holds only the sink and the level.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static bool log_stderr = true;
static int log_level = LOG_INFO;	/* atomic: read by every thread */

/*
 * The --log-file. Every thread writes to @log_fd (-1: no file) with one
 * write(2) per line, O_APPEND. The descriptor is never closed while a
 * thread may have loaded it: a new file (SIGHUP, logrotate) is dup3()ed
 * over the same number, which swaps the file under a concurrent write
 * atomically, and turning the file off parks /dev/null there. So a line
 * never lands in a descriptor recycled for something else, a WAL segment
 * say. @file_slot and @log_path belong to the server thread.
 */
static int log_fd = -1;
static int file_slot = -1;
static char log_path[4096];

static const char *level_name(int level)
{
	switch (level) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: return "crit";
	case LOG_ERR: return "error";
	case LOG_WARNING: return "warning";
	case LOG_NOTICE: return "notice";
	case LOG_INFO: return "info";
	default: return "debug";
	}
}

const char *kvd_log_level_name(int level)
{
	return level_name(level);
}

int kvd_log_level_parse(const char *name)
{
	static const int levels[] = {
		LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG,
	};
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(name, level_name(levels[i])) == 0)
			return levels[i];
	return -EINVAL;
}

void kvd_log_init(bool foreground)
{
	log_stderr = foreground;
	if (!foreground)
		openlog("kvshmd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void kvd_log_set_level(int level)
{
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

/* Put the open file @fd in @file_slot (>= 3: daemonize() reuses 0-2). */
static int take_slot(int fd)
{
	if (file_slot < 0) {
		if (fd > STDERR_FILENO) {
			file_slot = fd;
			return 0;
		}
		file_slot = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
		close(fd);
		return file_slot < 0 ? -errno : 0;
	}
	if (dup3(fd, file_slot, O_CLOEXEC) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

int kvd_log_set_file(const char *path)
{
	char copy[sizeof(log_path)];
	int fd, rc;

	if (!path || !*path) {
		__atomic_store_n(&log_fd, -1, __ATOMIC_RELEASE);
		log_path[0] = '\0';
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd >= 0 && file_slot >= 0)
			take_slot(fd);	/* lets the old file go */
		else if (fd >= 0)
			close(fd);
		return 0;
	}
	if (strlen(path) >= sizeof(copy))
		return -ENAMETOOLONG;
	snprintf(copy, sizeof(copy), "%s", path);	/* may be log_path */
	fd = open(copy, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	rc = take_slot(fd);
	if (rc < 0)
		return rc;
	snprintf(log_path, sizeof(log_path), "%s", copy);
	__atomic_store_n(&log_fd, file_slot, __ATOMIC_RELEASE);
	return 0;
}

int kvd_log_reopen(void)
{
	if (__atomic_load_n(&log_fd, __ATOMIC_RELAXED) < 0)
		return 0;
	return kvd_log_set_file(log_path);
}

/* "2026-11-23T18:19:00.123+01:00": RFC 3339, local time. */
static void timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char tz[8];
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (strftime(tz, sizeof(tz), "%z", &tm) != 5)
		snprintf(tz, sizeof(tz), "+0000");
	snprintf(buf + n, size - n, ".%03ld%.3s:%.2s",
		 ts.tv_nsec / 1000000, tz, tz + 3);
}

static void vlog(int level, const char *fmt, va_list ap)
{
	char msg[1024], line[1200], ts[48];
	ssize_t w;
	int fd, n;

	if (level > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fd = __atomic_load_n(&log_fd, __ATOMIC_ACQUIRE);
	if (fd >= 0) {
		timestamp(ts, sizeof(ts));
		n = snprintf(line, sizeof(line), "%s kvshmd[%d]: level=%s %s\n",
			     ts, (int)getpid(), level_name(level), msg);
		if (n >= (int)sizeof(line)) {
			n = sizeof(line) - 1;
			line[n - 1] = '\n';
		}
		/* One write, so lines of concurrent threads never mix; a
		 * failure has nowhere left to be reported. */
		w = write(fd, line, (size_t)n);
		(void)w;
	} else if (log_stderr) {
		fprintf(stderr, "kvshmd: level=%s %s\n", level_name(level), msg);
	} else {
		syslog(level, "level=%s %s", level_name(level), msg);
	}
}

void kvd_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

void kvd_log_from_handler(const char *msg)
{
	int fd = __atomic_load_n(&log_fd, __ATOMIC_ACQUIRE);
	ssize_t r;

	if (fd < 0 && !log_stderr)
		return;		/* syslog(3) is not async-signal-safe */
	if (fd < 0)
		fd = STDERR_FILENO;
	r = write(fd, "kvshmd: ", 8);
	r = write(fd, msg, strlen(msg));
	r = write(fd, "\n", 1);
	(void)r;
}

void kvd_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	abort();
}
