/* SPDX-License-Identifier: MIT */
/*
 * daemon/notify.h - tell the service manager how kvshmd is doing, through
 * sd_notify(3): READY=1 once it serves, RELOADING=1 then READY=1 around a
 * SIGHUP reload, STOPPING=1 when a clean stop begins. That is what
 * Type=notify units (contrib/kvshmd.service) wait for.
 *
 * Does nothing when kvshmd was built without libsystemd (configure
 * --with-systemd) or was not started by a manager (no NOTIFY_SOCKET).
 * Server thread only. Holds no state.
 */
#ifndef KVD_NOTIFY_H
#define KVD_NOTIFY_H

#include <stdbool.h>

void kvd_notify_ready(void);
void kvd_notify_reloading(void);
void kvd_notify_stopping(void);

/* Was kvshmd built with sd_notify() support? */
bool kvd_notify_supported(void);

#endif /* KVD_NOTIFY_H */
