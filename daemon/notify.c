// SPDX-License-Identifier: MIT
/*
 * daemon/notify.c - sd_notify(3) messages to systemd (see notify.h).
 * Without libsystemd every function is empty.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "notify.h"

#ifdef HAVE_SYSTEMD
/*
 * A failure is worth a line, not a stop: the manager then times out and
 * says so itself. sd_notify() returns 0 when NOTIFY_SOCKET is unset.
 */
static void notify(const char *state)
{
	int rc = sd_notify(0, state);

	if (rc < 0)
		kvd_log(LOG_WARNING, "event=notify_failed state=\"%.40s\" "
			"errno=%d (%s)", state, -rc, strerror(-rc));
}

bool kvd_notify_supported(void)
{
	return true;
}

void kvd_notify_ready(void)
{
	char msg[64];

	/* MAINPID: a detached kvshmd is not the process the manager ran. */
	snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%d", (int)getpid());
	notify(msg);
}

void kvd_notify_reloading(void)
{
	struct timespec ts;
	char msg[96];

	/* systemd >= 253 (Type=notify-reload) wants the time of the reload
	 * request; older versions ignore the field. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
		 (unsigned long long)ts.tv_nsec / 1000);
	notify(msg);
}

void kvd_notify_stopping(void)
{
	notify("STOPPING=1");
}
#else
bool kvd_notify_supported(void)
{
	return false;
}

void kvd_notify_ready(void)
{
}

void kvd_notify_reloading(void)
{
}

void kvd_notify_stopping(void)
{
}
#endif
