#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_persistctl.sh - kvshmctl's data-file commands against a real kvshmd:
# snapshot, dump, restore, check-wal, check-snapshot, and what each does
# with a damaged file. TAP. The daemon is stopped by PID; nothing outlives
# the test (trap on EXIT).

set -u

. "$(dirname "$0")/../lib/tap.sh" || { echo "Bail out! no tests/lib/tap.sh"; exit 1; }

tap_setup tpctl
data=$dir/data
ctl_timeout=20

# start [ARGS...] - kvshmd on $data, with ARGS.
start() {
	start_daemon --name "$name" --data-dir "$data" --foreground "$@"
}

plan_tests 17

# one_error CODE - the last run exited CODE with exactly one "kvshmctl: ..."
# line on stderr (unlike fails_with, stdout is not looked at).
one_error() {
	[ "$rc" -eq "$1" ] && [ "$(wc -l <"$dir/err")" -eq 1 ] &&
		grep -q '^kvshmctl: ' "$dir/err"
}

start
for i in $(seq 1 200); do echo "k$i"; done | while read -r k; do
	"$CTL" --name "$name" set "$k" "value of $k" >/dev/null
done
ctl set spaced "  two  spaces, tab	and \"quotes\"  "
ctl set short-lived x --ttl 600000

ctl snapshot
lsn=$(cat "$dir/out")
snap=$(printf '%s/snap-%016x.lz4' "$data" "$lsn")
[ "$rc" -eq 0 ] && [ "$lsn" -ge 202 ] && [ -f "$snap" ]
ok $? "snapshot prints its LSN and leaves snap-LSN.lz4 in the data directory"

ctl check-snapshot "$snap"
[ "$rc" -eq 0 ] && grep -q "keys=202" "$dir/out"
ok $? "check-snapshot verifies it: 202 keys"

if command -v lz4 >/dev/null; then
	lz4 -d -c "$snap" 2>/dev/null | grep -q "value of k17"
	ok $? "lz4 -d reads a snapshot"
else
	skip "no lz4 program"
fi

ctl dump "$dir/d.kvs"
[ "$rc" -eq 0 ] && grep -q "202 keys" "$dir/err" && [ -f "$dir/d.kvs" ]
ok $? "dump writes every key to a file"

ctl flush
ctl restore "$dir/d.kvs"
r1=$rc
ctl get k77; g1=$(cat "$dir/out")
ctl get spaced; g2=$(cat "$dir/out")
ctl ttl short-lived; t1=$(cat "$dir/out")
[ "$r1" -eq 0 ] && [ "$g1" = "value of k77" ] &&
	[ "$g2" = "  two  spaces, tab	and \"quotes\"  " ] &&
	[ "$t1" -gt 0 ] && [ "$t1" -le 600000 ]
ok $? "restore brings back values byte for byte and the remaining TTL"

ctl check-wal "$data"
[ "$rc" -eq 0 ] && grep -q "status=ok" "$dir/out"
ok $? "check-wal on a healthy directory exits 0"

ctl check-wal "$dir/nonexistent"
one_error 1
ok $? "check-wal of a missing directory exits 1 with one line"

head -c 300 "$dir/d.kvs" >"$dir/cut.kvs"
ctl check-snapshot "$dir/cut.kvs"
one_error 1 && grep -q "cut.kvs" "$dir/err"
ok $? "check-snapshot of a cut file exits 1 naming it"

ctl set marker before
ctl restore "$dir/cut.kvs"
r1=$rc
ctl get marker
[ "$r1" -eq 1 ] && [ "$(cat "$dir/out")" = "before" ]
ok $? "restore of a damaged file exits 1 and changes nothing"

stop_daemon
seg=$(ls "$data"/wal-*.log | tail -1)
size=$(stat -c %s "$seg")
cp "$seg" "$dir/seg.bak"
printf '\x55' | dd of="$seg" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
ctl check-wal "$data"
[ "$rc" -eq 1 ] && grep -q "corrupt" "$dir/out" && grep -q "bad_offset=" "$dir/out"
ok $? "check-wal finds a flipped byte in the middle: exit 1, the offset"
cp "$dir/seg.bak" "$seg"
head -c 100 /dev/urandom >>"$seg"
ctl check-wal "$data"
[ "$rc" -eq 0 ] && grep -q "torn-tail" "$dir/out"
ok $? "a garbage tail is a torn tail recovery cuts off: exit 0"

start
ctl get k150
[ "$rc" -eq 0 ] && [ "$(cat "$dir/out")" = "value of k150" ] &&
	grep -q "event=wal_truncated" "$dir/log"
ok $? "the restarted daemon cut the tail and kept the data"
stop_daemon
ctl check-wal "$data"
[ "$rc" -eq 0 ] && ! grep -q "zero_tail=" "$dir/out"
ok $? "after a clean stop no segment keeps a preallocated tail"

# A killed daemon leaves its segment preallocated: zeros after the records.
start
ctl set crashed "acknowledged before the kill"
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=
ctl check-wal "$data"
[ "$rc" -eq 0 ] && grep -q " ok .*zero_tail=" "$dir/out" &&
	grep -q "status=ok" "$dir/out" && ! grep -q "torn-tail" "$dir/out"
ok $? "check-wal calls a killed daemon's zero tail the end of the log: ok, exit 0"

start
ctl get crashed
[ "$rc" -eq 0 ] && [ "$(cat "$dir/out")" = "acknowledged before the kill" ] &&
	grep -q "event=wal_prealloc_cut" "$dir/log"
ok $? "the restarted daemon cut the zeros and kept the acknowledged write"
stop_daemon

start --persistence none
ctl snapshot
one_error 1
ok $? "snapshot with --persistence none exits 1 with one line"
ctl snapshot --bogus
[ "$rc" -eq 2 ]
ok $? "an unknown option is a usage error (exit 2)"
stop_daemon

done_testing
