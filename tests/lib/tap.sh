# SPDX-License-Identifier: MIT
#
# tests/lib/tap.sh - the frame of the shell tests in tests/integration,
# sourced by each of them: a TAP printer with the names of tests/tap.h
# (plan_tests, ok, skip, bail_out), one kvshmd per test under a name of
# its own (so make -j check is safe) and kvshmctl run against it.
#
# A test sources it by its own path, which works in VPATH builds and in
# distcheck (the scripts stay in the source tree):
#
#	. "$(dirname "$0")/../lib/tap.sh" || { echo "Bail out! ..."; exit 1; }
#	tap_setup tctl		# daemon name tctl-PID-RANDOM, $dir, EXIT trap
#	plan_tests 55
#	start_daemon --name "$name" --data-dir "$dir" --foreground
#	ctl ping; [ "$rc" -eq 0 ] && [ "$out" = PONG ]
#	ok $? "ping prints PONG"
#	...
#	done_testing
#
# It must never hold a test's own checks or daemon options: those stay in
# the test. Needs bash and KVSHM_TEST_BUILDDIR, the absolute build
# directory (the Makefile's LOG_DRIVER sets it). Processes are stopped by
# PID only, never by name; the daemon and $dir never outlive the test:
# the EXIT trap runs in the main shell only, never in a subshell.

if [ -z "${KVSHM_TEST_BUILDDIR:-}" ]; then
	echo "Bail out! KVSHM_TEST_BUILDDIR is not set"
	exit 1
fi
KVSHMD=$KVSHM_TEST_BUILDDIR/daemon/kvshmd
CTL=$KVSHM_TEST_BUILDDIR/tools/kvshmctl

# Seconds one ctl run may take; a test may raise it after sourcing.
ctl_timeout=10

# tap_setup TAG - name the daemon TAG-PID-RANDOM ($name), make the
# private directory $dir (kvshmctl's output goes to $dir/out and
# $dir/err, kvshmd's to $dir/log) and set the EXIT trap.
tap_setup() {
	name="$1-$$-$RANDOM"
	dir=$(mktemp -d) || { echo "Bail out! mktemp -d failed"; exit 1; }
	pid=
	status=
	t=0
	failed=0
	rc=0
	out=
	: >"$dir/out"
	: >"$dir/err"
	trap cleanup EXIT
}

# running PID - true while PID exists and is not a zombie waiting for us.
running() {
	kill -0 "$1" 2>/dev/null &&
		! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# stop_daemon - SIGTERM the daemon $pid, reap it, set $status; SIGKILL
# after 10 s. No watchdog subshell: a subshell signalled before it has
# reset its traps would run our EXIT trap.
stop_daemon() {
	local i

	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 200); do
		running "$pid" || break
		sleep 0.05
	done
	running "$pid" && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	status=$?
	pid=
}

# stop_for_ok - stop the daemon as the subject of the next check: $status
# and $rc are its exit status, $dir/out and $dir/err are emptied, so that
# a failing ok shows only that.
stop_for_ok() {
	stop_daemon
	rc=$status
	: >"$dir/out"
	: >"$dir/err"
}

# segments_gone - neither of the daemon's segments is left in /dev/shm.
segments_gone() {
	[ ! -e "/dev/shm/kvshm-$name" ] && [ ! -e "/dev/shm/kvshm-$name.rw" ]
}

# show_log - the daemon's log so far, as TAP comments.
show_log() {
	[ -f "$dir/log" ] && sed 's/^/# kvshmd: /' "$dir/log"
}

# cleanup - the EXIT trap, in this shell only, never in a subshell: stop
# the daemon, then whatever the test's own cleanup_extra() undoes (if it
# defines one), then remove $dir.
cleanup() {
	[ "${BASHPID:-$$}" = "$$" ] || return
	[ -n "$pid" ] && stop_daemon
	declare -F cleanup_extra >/dev/null && cleanup_extra
	rm -rf "$dir"
}

# bail_out REASON - abandon the whole test, showing the daemon's log.
bail_out() {
	echo "Bail out! $1"
	show_log
	exit 1
}

# start_daemon ARGS... - start "kvshmd ARGS..." in the background, its
# output appended to $dir/log, as $pid. ARGS must keep it in the
# foreground and name it $name. Polls every 0.05 s for 10 s until
# "kvshmctl --name $name ping" answers; a daemon that exited (a zombie
# until we reap it) will never serve, so stop waiting for it at once.
start_daemon() {
	local i

	"$KVSHMD" "$@" >>"$dir/log" 2>&1 &
	pid=$!
	for i in $(seq 200); do
		"$CTL" --name "$name" ping >/dev/null 2>&1 && return 0
		running "$pid" ||
			bail_out "kvshmd --name $name exited during start-up"
		sleep 0.05
	done
	bail_out "kvshmd --name $name did not serve within 10 s"
}

# plan_tests N - print the plan: N tests follow.
plan_tests() {
	plan=$1
	echo "1..$plan"
}

# ok STATUS SENTENCE - one TAP line; on failure, what the last run saw:
# its exit status $rc, its stdout (the first 4000 bytes) and its stderr.
ok() {
	t=$((t + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $t - $2"
	else
		failed=$((failed + 1))
		echo "not ok $t - $2"
		echo "# exit status $rc"
		head -c 4000 "$dir/out" | sed 's/^/# stdout: /'
		sed 's/^/# stderr: /' "$dir/err"
	fi
}

# skip REASON - count the next test as skipped.
skip() {
	t=$((t + 1))
	echo "ok $t # SKIP $1"
}

# done_testing - say so if the count of tests run is not the plan's.
done_testing() {
	[ "$t" -eq "$plan" ] || echo "# ran $t tests, planned $plan"
}

# ctl ARGS... - run kvshmctl on our daemon; sets and returns $rc, sets
# $out (stdout in $dir/out, stderr in $dir/err). $out drops NUL bytes,
# which a shell variable cannot hold: compare binary output with cmp.
ctl() {
	timeout "$ctl_timeout" "$CTL" --name "$name" "$@" \
		>"$dir/out" 2>"$dir/err"
	rc=$?
	out=$(tr -d '\0' <"$dir/out")
	return $rc
}

# fails_with CODE - the last run exited CODE, printed nothing on stdout,
# and exactly one "kvshmctl: ..." line on stderr.
fails_with() {
	[ "$rc" -eq "$1" ] && [ ! -s "$dir/out" ] &&
		[ "$(wc -l <"$dir/err")" -eq 1 ] &&
		grep -q '^kvshmctl: ' "$dir/err"
}
