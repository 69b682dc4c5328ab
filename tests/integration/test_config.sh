#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/integration/test_config.sh - kvshmd --config FILE and
# --check-config: values from the file, flags overriding them, errors
# naming the file and line, and a daemon really started from a file.
set -u

B=${KVSHM_TEST_BUILDDIR:?}
KVSHMD=$B/daemon/kvshmd
CTL=$B/tools/kvshmctl
dir=$(mktemp -d /tmp/kvshm-test-XXXXXX)
name="tconf-$$-$RANDOM"
pid=
n=0
fail=0

cleanup() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fail=1
	fi
}

echo "1..9"

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

"$KVSHMD" --config "$dir/good.conf" >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 200); do
	"$CTL" --name "$name" ping >/dev/null 2>&1 && break
	sleep 0.05
done
stats=$("$CTL" --name "$name" stats 2>/dev/null)
echo "$stats" | grep -qx 'max_key 100' && echo "$stats" | grep -qx 'shards 16' &&
	echo "$stats" | grep -qx 'memory_limit 16777216'
ok $? "a daemon started from the file serves with its settings"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] && [ ! -e "/dev/shm/kvshm-$name" ]
ok $? "it stops cleanly on SIGTERM"
exit $fail
