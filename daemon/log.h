/* SPDX-License-Identifier: MIT */
/*
 * daemon/log.h - kvshmd's one logging function.
 *
 * One line per event, "level=... event=... key=value ...". Goes to the
 * --log-file if one is set (each line stamped with the time and the PID),
 * else to stderr in the foreground and to syslog(3) when detached.
 * kvd_log_from_handler() is the async-signal-safe variant (fixed message,
 * write(2) only); kvd_die() is for broken invariants and aborts.
 *
 * Any thread may log. The level and the file change only on the server
 * thread (start-up, SIGHUP), while other threads log.
 */
#ifndef KVD_LOG_H
#define KVD_LOG_H

#include <stdbool.h>
#include <syslog.h>

void kvd_log_init(bool foreground);
void kvd_log_set_level(int level);

/* "error", "warning", "notice", "info", "debug" <-> LOG_*; -EINVAL. */
int kvd_log_level_parse(const char *name);
const char *kvd_log_level_name(int level);

/*
 * kvd_log_set_file - log to @path from now on (appending, created 0640
 * if missing), or back to stderr/syslog if @path is NULL or "". The file
 * is opened before the old one is let go: on failure nothing changes.
 * Return 0 or -errno.
 */
int kvd_log_set_file(const char *path);

/*
 * kvd_log_reopen - open the log file again by its path (after logrotate
 * renamed it). Nothing to do without a file. Return 0 or -errno (the old
 * file is kept).
 */
int kvd_log_reopen(void);

void kvd_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void kvd_log_from_handler(const char *msg);
void kvd_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif /* KVD_LOG_H */
