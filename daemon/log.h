/* SPDX-License-Identifier: MIT */
/*
 * daemon/log.h - kvshmd's one logging function.
 *
 * One line per event, "level=... event=... key=value ...". Goes to stderr
 * in the foreground, to syslog(3) otherwise. kvd_log_from_handler() is the
 * async-signal-safe variant (fixed message, write(2) only); kvd_die() is
 * for broken invariants and aborts.
 */
#ifndef KVD_LOG_H
#define KVD_LOG_H

#include <stdbool.h>
#include <syslog.h>

void kvd_log_init(bool foreground);
void kvd_log_set_level(int level);
void kvd_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void kvd_log_from_handler(const char *msg);
void kvd_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif /* KVD_LOG_H */
