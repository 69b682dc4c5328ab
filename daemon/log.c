// SPDX-License-Identifier: MIT
/*
 * daemon/log.c - kvshmd logging: stderr in the foreground, syslog otherwise.
 * Holds only the sink choice and the level.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static bool log_stderr = true;
static int log_level = LOG_INFO;

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

void kvd_log_init(bool foreground)
{
	log_stderr = foreground;
	if (!foreground)
		openlog("kvshmd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void kvd_log_set_level(int level)
{
	log_level = level;
}

static void vlog(int level, const char *fmt, va_list ap)
{
	char msg[1024];

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_stderr)
		fprintf(stderr, "kvshmd: level=%s %s\n", level_name(level), msg);
	else
		syslog(level, "level=%s %s", level_name(level), msg);
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
	ssize_t r;

	if (!log_stderr)
		return;		/* syslog(3) is not async-signal-safe */
	r = write(STDERR_FILENO, "kvshmd: ", 8);
	r = write(STDERR_FILENO, msg, strlen(msg));
	r = write(STDERR_FILENO, "\n", 1);
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
