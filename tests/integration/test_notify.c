// SPDX-License-Identifier: MIT
/*
 * integration/test_notify.c - kvshmd tells its service manager how it is
 * doing (sd_notify): READY=1 once it serves, RELOADING=1 then READY=1
 * around a SIGHUP reload, STOPPING=1 at a clean stop.
 *
 * The test plays systemd: it binds a datagram socket, names it in
 * NOTIFY_SOCKET for the kvshmd it starts, and reads what arrives. Skipped
 * when kvshmd was built without libsystemd (configure --with-systemd).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../lib/daemon.h"
#include "../tap.h"

#ifndef HAVE_SYSTEMD
int main(void)
{
	skip_all("kvshmd built without libsystemd: no sd_notify");
}
#else
static int sock = -1;

/*
 * Read messages until one holds @state (a line of it), 20 s at most.
 * The message is left in @msg. Other messages are skipped, as systemd
 * would take them (STATUS=, MAINPID=...).
 */
static int wait_state(const char *state, char *msg, size_t size)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int i;

	for (i = 0; i < 200; i++) {
		ssize_t n;

		if (poll(&p, 1, 100) != 1)
			continue;
		n = recv(sock, msg, size - 1, 0);
		if (n < 0)
			continue;
		msg[n] = '\0';
		/* Lines are separated by '\n': match a whole one. */
		if (strncmp(msg, state, strlen(state)) == 0 &&
		    (msg[strlen(state)] == '\n' || msg[strlen(state)] == '\0'))
			return 1;
		diag("message skipped: %s", msg);
	}
	diag("no %s within 20 s", state);
	return 0;
}

int main(void)
{
	char dir[] = "/tmp/kvshm-notify-XXXXXX", msg[512], mainpid[64];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct test_daemon d;

	plan_tests(6);
	if (!mkdtemp(dir))
		bail_out("mkdtemp: %s", strerror(errno));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		bail_out("notify socket: %s", strerror(errno));
	setenv("NOTIFY_SOCKET", sa.sun_path, 1);
	start_kvshmd(&d, "notify", NULL);
	unsetenv("NOTIFY_SOCKET");

	ok(wait_state("READY=1", msg, sizeof(msg)),
	   "READY=1 arrives once kvshmd serves");
	snprintf(mainpid, sizeof(mainpid), "MAINPID=%d", (int)d.pid);
	ok(strstr(msg, mainpid) != NULL, "READY=1 names the daemon's PID");

	kill(d.pid, SIGHUP);
	ok(wait_state("RELOADING=1", msg, sizeof(msg)) &&
	   strstr(msg, "MONOTONIC_USEC=") != NULL,
	   "SIGHUP: RELOADING=1 with the time of the request");
	ok(wait_state("READY=1", msg, sizeof(msg)),
	   "READY=1 again once the reload is done");

	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	ok(wait_state("STOPPING=1", msg, sizeof(msg)),
	   "STOPPING=1 at the clean stop");

	close(sock);
	unlink(sa.sun_path);
	rmdir(dir);
	return exit_status();
}
#endif
