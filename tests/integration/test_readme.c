// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_readme.c - the C tour in README.md works as the
 * README says. The build extracts the program (readme_tour.c, see
 * tests/Makefile.am) and compiles it like any client; this test runs it
 * against a real kvshmd and checks what it prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <kvshm.h>

#include "../lib/daemon.h"
#include "../tap.h"

/* Run the tour on cache @name; its stdout into @out. Return exit status. */
static int tour(const char *name, char *out, size_t cap)
{
	char cmd[512];
	size_t n;
	FILE *f;
	int st;

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1",
		 build_path("tests/integration/readme_tour"), name);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void)
{
	static const char want1[] =
		"greeting = hello\n"
		"session:42 = alice\n"
		"hits = 1\n"
		"nothing: key not found or expired\n";
	struct test_daemon d;
	char out[1024];
	int64_t ttl;
	kvshm_t *c;

	plan_tests(5);
	start_kvshmd(&d, "readme", NULL);
	ok(tour(d.name, out, sizeof(out)) == 0 && strcmp(out, want1) == 0,
	   "the README's tour prints what the README says");
	if (strcmp(out, want1) != 0)
		diag("got: %s", out);
	ok(tour(d.name, out, sizeof(out)) == 0 && strstr(out, "hits = 2\n"),
	   "run again, hits is 2");
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot open");
	ok(kvshm_ttl(c, "session:42", 10, &ttl) == 0 && ttl > 0 && ttl <= 60000,
	   "the session key it set carries its 60 s TTL");
	kvshm_close(c);
	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	ok(tour(d.name, out, sizeof(out)) == 1 &&
	   strstr(out, "kvshm_open: daemon not running"),
	   "without a daemon it says so and exits 1");
	cleanup_kvshmd(&d);
	return exit_status();
}
