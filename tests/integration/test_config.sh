#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/integration/test_config.sh - kvshmd --config FILE and
# --check-config: values from the file, flags overriding them, errors
# naming the file and line, and a daemon really started from a file.
set -u

. "$(dirname "$0")/../lib/tap.sh" || { echo "Bail out! no tests/lib/tap.sh"; exit 1; }

tap_setup tconf
bgpid=

# cleanup_extra - called by the EXIT trap: the detached daemon is not our
# child, so stop it by its PID and remove what it leaves.
cleanup_extra() {
	if [ -n "$bgpid" ] && kill -0 "$bgpid" 2>/dev/null; then
		kill -KILL "$bgpid" 2>/dev/null
		rm -f "/dev/shm/kvshm-$name-bg" "/dev/shm/kvshm-$name-bg.rw"
	fi
}

plan_tests 26

cat >"$dir/good.conf" <<CONF
# a comment, then settings with odd spacing
memory 16M
   shards   16
max-key 100

name $name
data-dir $dir
foreground yes
CONF
out=$("$KVSHMD" --config "$dir/good.conf" --check-config 2>&1)
rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -qx 'memory 16777216' &&
	echo "$out" | grep -qx 'shards 16' && echo "$out" | grep -qx 'max-key 100'
ok $? "--check-config prints the values read from the file"

out=$("$KVSHMD" --config "$dir/good.conf" --shards 32 --check-config 2>&1)
echo "$out" | grep -qx 'shards 32' && echo "$out" | grep -qx 'max-key 100'
ok $? "a flag overrides the file, wherever it stands"

out=$(KVSHM_SHARDS=64 KVSHM_MAX_KEY=200 "$KVSHMD" --config "$dir/good.conf" \
	--check-config 2>&1)
echo "$out" | grep -qx 'shards 64' && echo "$out" | grep -qx 'max-key 200' &&
	echo "$out" | grep -qx 'memory 16777216'
ok $? "KVSHM_* variables override the file"

out=$(KVSHM_SHARDS=64 "$KVSHMD" --config "$dir/good.conf" --shards 32 \
	--check-config 2>&1)
echo "$out" | grep -qx 'shards 32'
ok $? "a flag overrides the environment"

err=$(KVSHM_FSYNC=sometimes "$KVSHMD" --check-config 2>&1 >/dev/null)
rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "environment KVSHM_FSYNC: invalid --fsync 'sometimes'"
ok $? "a bad value in the environment is an error that names the variable"

printf 'memory 16M\nbogus 1\n' >"$dir/bad1.conf"
err=$("$KVSHMD" --config "$dir/bad1.conf" --check-config 2>&1 >/dev/null)
rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "bad1.conf:2: unknown key 'bogus'"
ok $? "an unknown key is an error that names the file and line"

printf '\n\nmax-key zero\n' >"$dir/bad2.conf"
err=$("$KVSHMD" --config "$dir/bad2.conf" --check-config 2>&1 >/dev/null)
rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "bad2.conf:3: invalid"
ok $? "a bad value is an error that names the file and line"

printf 'foreground maybe\n' >"$dir/bad3.conf"
"$KVSHMD" --config "$dir/bad3.conf" --check-config >/dev/null 2>&1
ok $([ $? -eq 1 ]; echo $?) "a switch takes yes or no only"

err=$("$KVSHMD" --config "$dir/missing.conf" --check-config 2>&1 >/dev/null)
rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "cannot read configuration"
ok $? "a missing file is an error"

[ ! -e "$dir/kvshmd.sock" ]
ok $? "--check-config starts nothing"

printf 'eviction sieve\neviction-samples 20\neviction-watermark 3\n' \
	>"$dir/evict.conf"
out=$("$KVSHMD" --config "$dir/evict.conf" --check-config 2>&1)
echo "$out" | grep -qx 'eviction sieve' &&
	echo "$out" | grep -qx 'eviction-samples 20' &&
	echo "$out" | grep -qx 'eviction-watermark 3'
ok $? "the eviction keys are read from the file"

printf 'eviction lru2\n' >"$dir/bad4.conf"
err=$("$KVSHMD" --config "$dir/bad4.conf" --check-config 2>&1 >/dev/null)
rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "bad4.conf:1: invalid --eviction 'lru2'" &&
	echo "$err" | grep -q "volatile-ttl"
ok $? "an unknown policy is an error that lists the policies"

out=$(KVSHM_LOG_LEVEL=debug "$KVSHMD" --log-file "$dir/k.log" --check-config 2>&1)
echo "$out" | grep -qx 'log-level debug' && echo "$out" | grep -qx "log-file $dir/k.log"
ok $? "KVSHM_LOG_LEVEL and --log-file are read"

err=$("$KVSHMD" --log-level loud --check-config 2>&1 >/dev/null)
rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "invalid --log-level 'loud'"
ok $? "an unknown log level is an error"

out=$("$KVSHMD" --check-config 2>&1)
echo "$out" | grep -qx 'reader-revoke-ms 10000' &&
	"$KVSHMD" --reader-revoke-ms 0 --check-config | grep -qx 'reader-revoke-ms 0' &&
	"$KVSHMD" --reader-revoke-ms 250 --check-config | grep -qx 'reader-revoke-ms 250'
ok $? "--reader-revoke-ms is 10000 by default, and takes 0 and 250"

bad=0
for v in 50 3600001 -1 abc ""; do
	err=$("$KVSHMD" --reader-revoke-ms "$v" --check-config 2>&1 >/dev/null)
	rc=$?
	{ [ $rc -eq 1 ] && echo "$err" | grep -q "invalid --reader-revoke-ms"; } || bad=1
done
[ $bad -eq 0 ]
ok $? "--reader-revoke-ms below 100 (but 0), above an hour or not a number is an error"

out=$("$KVSHMD" --check-config 2>&1)
echo "$out" | grep -qx 'spin-us 50' &&
	"$KVSHMD" --spin-us 0 --check-config | grep -qx 'spin-us 0' &&
	"$KVSHMD" --spin-us 1000 --check-config | grep -qx 'spin-us 1000'
ok $? "--spin-us is 50 by default, and takes 0 and 1000"

bad=0
for v in 1001 -1 abc ""; do
	err=$("$KVSHMD" --spin-us "$v" --check-config 2>&1 >/dev/null)
	rc=$?
	{ [ $rc -eq 1 ] && echo "$err" | grep -q "invalid --spin-us"; } || bad=1
done
[ $bad -eq 0 ]
ok $? "--spin-us above 1000, negative or not a number is an error"

err=$("$KVSHMD" --name "$name-nolog" --data-dir "$dir/nolog" --memory 16M \
	--log-file "$dir/no/such/dir/k.log" 2>&1 >/dev/null)
rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "cannot open log file" &&
	[ ! -e "/dev/shm/kvshm-$name-nolog" ]
ok $? "a log file that cannot be opened stops the start, said on stderr"

start_daemon --config "$dir/good.conf"
stats=$("$CTL" --name "$name" stats 2>/dev/null)
echo "$stats" | grep -qx 'max_key 100' && echo "$stats" | grep -qx 'shards 16' &&
	echo "$stats" | grep -qx 'memory_limit 16777216'
ok $? "a daemon started from the file serves with its settings"

# Writes with neither side polling, and with both polling as long as
# they may: the same results (the daemon above polls 50 us, the default).
bad=0
for sp in 0 1000; do
	KVSHM_SPIN_US=$sp "$CTL" --name "$name" set "spin$sp" "v$sp" \
		>/dev/null 2>&1 || bad=1
	[ "$(KVSHM_SPIN_US=$sp "$CTL" --name "$name" get "spin$sp" 2>/dev/null)" = "v$sp" ] ||
		bad=1
done
[ $bad -eq 0 ]
ok $? "writes and reads work with KVSHM_SPIN_US 0 and 1000"

stop_daemon
rc=$status
[ $rc -eq 0 ] && [ ! -e "/dev/shm/kvshm-$name" ]
ok $? "it stops cleanly on SIGTERM"

mkdir "$dir/nospin"
start_daemon --name "$name" --data-dir "$dir/nospin" --memory 16M \
	--spin-us 0 --foreground
bad=0
for i in $(seq 20); do
	"$CTL" --name "$name" set "k$i" "v$i" >/dev/null 2>&1 || bad=1
done
[ "$("$CTL" --name "$name" get k20 2>/dev/null)" = v20 ] || bad=1
stop_daemon
[ $bad -eq 0 ]
ok $? "a daemon with --spin-us 0 serves writes"

# Detached: the launcher exits 0 once the daemon serves, and the
# daemon's PID is in DIR/kvshmd.pid until it stops.
mkdir "$dir/bg"
"$KVSHMD" --name "$name-bg" --data-dir "$dir/bg" --memory 16M \
	--log-file "$dir/bg/kvshmd.log" >/dev/null 2>&1
rc=$?
bgpid=$(cat "$dir/bg/kvshmd.pid" 2>/dev/null)
spid=$("$CTL" --name "$name-bg" stats 2>/dev/null | awk '/^pid /{print $2}')
[ $rc -eq 0 ] && [ -n "$bgpid" ] && [ "$bgpid" = "$spid" ]
ok $? "a detached daemon writes its PID to DATA_DIR/kvshmd.pid"
grep -q "^[0-9-]*T[0-9:.+-]* kvshmd\[$bgpid\]: level=info event=ready " \
	"$dir/bg/kvshmd.log"
ok $? "a detached daemon logs to --log-file, lines timestamped"
if [ -n "$bgpid" ]; then
	kill -TERM "$bgpid"
	for _ in $(seq 200); do
		kill -0 "$bgpid" 2>/dev/null || break
		sleep 0.05
	done
fi
[ -n "$bgpid" ] && ! kill -0 "$bgpid" 2>/dev/null && [ ! -e "$dir/bg/kvshmd.pid" ]
ok $? "it removes the pidfile when it stops"
done_testing
exit $((failed > 0))
