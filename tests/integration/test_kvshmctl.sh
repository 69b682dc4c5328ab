#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_kvshmctl.sh - kvshmctl against a real kvshmd, as a TAP stream.
#
# Starts one kvshmd under a name of its own (so make -j check is safe), runs
# every kvshmctl command through its outputs and exit codes (0 success,
# 1 failure with one stderr line, 2 usage error), then stops the daemon with
# SIGTERM and checks it cleaned up. The frame (daemon, ctl, ok) is
# tests/lib/tap.sh. Needs KVSHM_TEST_BUILDDIR, the absolute build
# directory. Processes are stopped by PID only, never by name; the daemon
# and its data directory never outlive the test (trap on EXIT).

set -u

. "$(dirname "$0")/../lib/tap.sh" || { echo "Bail out! no tests/lib/tap.sh"; exit 1; }

tap_setup tctl
plan_tests 55
start_daemon --name "$name" --data-dir "$dir" --memory 16M --foreground

ctl ping
[ "$rc" -eq 0 ] && [ "$out" = PONG ]
ok $? "ping prints PONG"

[ -e "/dev/shm/kvshm-$name" ] && [ -e "/dev/shm/kvshm-$name.rw" ]
ok $? "while the daemon serves, both segments exist in /dev/shm"

ctl set greeting hello
[ "$rc" -eq 0 ] && [ "$out" = OK ]
ok $? "set prints OK"

ctl get greeting
[ "$rc" -eq 0 ] && [ "$out" = hello ]
ok $? "get returns the value just set"

value=$'two  spaces\tand a tab, "quotes" \\ and ~!@#$%^&*()'
ctl set odd "$value"
ctl get odd
[ "$rc" -eq 0 ] && printf '%s\n' "$value" | cmp -s - "$dir/out"
ok $? "a value with spaces and punctuation comes back byte for byte"

ctl set greeting other --nx
fails_with 1
ok $? "set --nx on an existing key exits 1 with one line on stderr"

ctl get greeting
[ "$rc" -eq 0 ] && [ "$out" = hello ]
ok $? "a refused set --nx leaves the old value"

ctl set absent value --xx
fails_with 1
ok $? "set --xx on a missing key exits 1 with one line on stderr"

ctl set greeting changed --xx
[ "$rc" -eq 0 ] && [ "$out" = OK ]
ok $? "set --xx on an existing key stores it"

ctl set shortlived v --ttl 60000
ctl ttl shortlived
[ "$rc" -eq 0 ] && [[ $out =~ ^[0-9]+$ ]] && [ "$out" -ge 1 ] &&
	[ "$out" -le 60000 ]
ok $? "after set --ttl 60000, ttl prints a value between 1 and 60000"

ctl persist shortlived
[ "$rc" -eq 0 ] && [ "$out" = 1 ] && ctl ttl shortlived &&
	[ "$rc" -eq 0 ] && [ "$out" = -1 ]
ok $? "persist prints 1, then ttl prints -1"

ctl expire shortlived 0
[ "$rc" -eq 0 ] && [ "$out" = 1 ] && { ctl get shortlived; fails_with 1; }
ok $? "expire KEY 0 prints 1 and deletes the key: get then exits 1"

ctl set victim v
ctl del victim
[ "$rc" -eq 0 ] && [ "$out" = 1 ]
ok $? "del prints 1"

ctl del victim
fails_with 1
ok $? "a second del of the same key exits 1 with one line on stderr"

ctl incr counter
[ "$rc" -eq 0 ] && [ "$out" = 1 ]
ok $? "incr on a missing key prints 1"

ctl incr counter -5
[ "$rc" -eq 0 ] && [ "$out" = -4 ]
ok $? "incr by -5 then prints -4"

ctl set word abc
ctl incr word
fails_with 1
ok $? "incr on a non-integer value exits 1 with one line on stderr"

for k in kt:a kt:b kt:c ktx other; do
	ctl set "$k" v
done
ctl keys 'kt:*'
[ "$rc" -eq 0 ] &&
	[ "$(sort "$dir/out")" = "$(printf 'kt:a\nkt:b\nkt:c')" ]
ok $? "keys with a pattern lists exactly the matching keys"

# A TTL far longer than the test can run: the paging test below compares
# a walk with a later full scan, which a key expiring in between breaks.
ctl mset m:1 one m:2 two --ttl 86400000
rc1=$rc out1=$out
ctl get m:2
[ "$rc1" -eq 0 ] && [ "$out1" = OK ] && [ "$rc" -eq 0 ] && [ "$out" = two ]
ok $? "mset stores every pair and prints OK"

ctl mset m:3 three m:4
fails_with 2 && ! "$CTL" --name "$name" get m:3 >/dev/null 2>&1
ok $? "mset with an odd argument count is a usage error and stores nothing"

ctl set "$(head -c 1024 /dev/zero | tr '\0' k)" v
[ "$rc" -eq 0 ] && [ "$out" = OK ]
ok $? "a key of exactly the daemon's limit (1024 bytes) is stored"

ctl set "$(head -c 1025 /dev/zero | tr '\0' k)" v
fails_with 1
ok $? "a 1025-byte key, over the limit, exits 1 with one line on stderr"

ctl append ap:new hello
rc1=$rc out1=$out
ctl get ap:new
[ "$rc1" -eq 0 ] && [ "$out1" = 5 ] && [ "$rc" -eq 0 ] && [ "$out" = hello ]
ok $? "append to a new key prints its length, and get shows the value"

ctl append ap:new ', world'
rc1=$rc out1=$out
ctl get ap:new
[ "$rc1" -eq 0 ] && [ "$out1" = 12 ] && [ "$rc" -eq 0 ] &&
	[ "$out" = 'hello, world' ]
ok $? "append to an existing key prints the new length and extends it"

ctl strlen ap:new
[ "$rc" -eq 0 ] && [ "$out" = 12 ]
ok $? "strlen prints the length of the value"

ctl set gd:key "$value"
ctl getdel gd:key
rc1=$rc
printf '%s\n' "$value" | cmp -s - "$dir/out"
cmp1=$?
ctl get gd:key
[ "$rc1" -eq 0 ] && [ "$cmp1" -eq 0 ] && fails_with 1
ok $? "getdel prints the value byte for byte, then get exits 1"

ctl getdel gd:key
fails_with 1
ok $? "getdel of a missing key exits 1 with one line on stderr"

ctl getset gs:key first
rc1=$rc
[ ! -s "$dir/out" ]
empty1=$?
ctl get gs:key
[ "$rc1" -eq 0 ] && [ "$empty1" -eq 0 ] && [ "$rc" -eq 0 ] &&
	[ "$out" = first ]
ok $? "getset of a missing key prints nothing, exits 0 and stores the value"

ctl getset gs:key second
rc1=$rc out1=$out
ctl get gs:key
[ "$rc1" -eq 0 ] && [ "$out1" = first ] && [ "$rc" -eq 0 ] &&
	[ "$out" = second ]
ok $? "getset of a present key prints the old value and stores the new"

ctl mset mg:a alpha mg:c gamma
ctl mget mg:a mg:b mg:c
[ "$rc" -eq 0 ] && printf 'alpha\n\ngamma\n' | cmp -s - "$dir/out"
ok $? "mget of present, absent, present keys prints three lines, the middle empty"

big=$(head -c 5000 /dev/zero | tr '\0' b)
ctl set mg:big "$big"
ctl mget mg:big mg:a mg:none
[ "$rc" -eq 0 ] && printf '%s\nalpha\n\n' "$big" | cmp -s - "$dir/out"
ok $? "mget prints a long value whole, and an empty last line for a missing key"

ctl mset md:a 1 md:b 2
ctl mdel md:a md:none md:b
rc1=$rc out1=$out
ctl mget md:a md:b
[ "$rc1" -eq 0 ] && [ "$out1" = 2 ] && [ "$rc" -eq 0 ] &&
	printf '\n\n' | cmp -s - "$dir/out"
ok $? "mdel of two present keys and one absent prints 2, and both are gone"

ctl mdel md:a md:b
[ "$rc" -eq 0 ] && [ "$out" = 0 ]
ok $? "mdel of absent keys only prints 0 and exits 0"

ctl mdel
fails_with 2
ok $? "mdel without a key is a usage error"

ctl scan --prefix kt:
[ "$rc" -eq 0 ] &&
	[ "$(LC_ALL=C sort "$dir/out")" = "$(printf 'kt:a\nkt:b\nkt:c')" ]
ok $? "scan --prefix lists exactly the matching keys (not ktx)"

ctl mset rg:a 1 rg:b 2 rg:bb 3 rg:c 4 rg:d 5
ctl scan --min rg:b --max rg:c
[ "$rc" -eq 0 ] &&
	[ "$(LC_ALL=C sort "$dir/out")" = "$(printf 'rg:b\nrg:bb')" ]
ok $? "scan --min/--max lists the keys in [MIN, MAX) bytewise"

ctl scan --prefix rg: --min rg:c
rc1=$rc out1=$(LC_ALL=C sort "$dir/out")
ctl scan --pattern 'rg:*' --max rg:b
[ "$rc1" -eq 0 ] && [ "$out1" = "$(printf 'rg:c\nrg:d')" ] &&
	[ "$rc" -eq 0 ] && [ "$out" = rg:a ]
ok $? "scan --min alone and --max alone bound one side only"

ctl scan
cp "$dir/out" "$dir/unsorted"
rc1=$rc
ctl scan --sorted
[ "$rc1" -eq 0 ] && [ "$rc" -eq 0 ] && [ -s "$dir/out" ] &&
	LC_ALL=C sort "$dir/unsorted" | cmp -s - "$dir/out"
ok $? "scan --sorted prints what LC_ALL=C sort makes of plain scan"

ctl scan --limit 3 --sorted
[ "$rc" -eq 0 ] && [ "$(wc -l <"$dir/out")" -le 4 ] &&
	tail -n 1 "$dir/out" | grep -Eq '^cursor [0-9]+$' &&
	head -n -1 "$dir/out" | LC_ALL=C sort -c 2>/dev/null
ok $? "scan --limit 3 --sorted prints at most 3 sorted keys, then the cursor"

# Page through with --limit 2, following the cursor until it is 0.
for k in pg:1 pg:2 pg:3 pg:4 pg:5 pg:6 pg:7; do
	ctl set "$k" v
done
: >"$dir/pages"
cursor=0 pages=0 done=1
while [ "$pages" -lt 1000 ]; do
	pages=$((pages + 1))
	ctl scan --limit 2 --cursor "$cursor"
	last=$(tail -n 1 "$dir/out")
	[ "$rc" -eq 0 ] && [ "$(wc -l <"$dir/out")" -le 3 ] &&
		[[ $last =~ ^cursor\ [0-9]+$ ]] || break
	head -n -1 "$dir/out" >>"$dir/pages"
	cursor=${last#cursor }
	[ "$cursor" = 0 ] && { done=0; break; }
done
missing=0
for k in pg:1 pg:2 pg:3 pg:4 pg:5 pg:6 pg:7 kt:a rg:d greeting; do
	grep -qxF "$k" "$dir/pages" || missing=1
done
ctl scan
[ "$done" -eq 0 ] && [ "$pages" -gt 1 ] && [ "$missing" -eq 0 ] &&
	[ "$(LC_ALL=C sort -u "$dir/pages")" = "$(LC_ALL=C sort "$dir/out")" ]
ok $? "paging with --limit 2 from cursor to cursor until 0 visits every key"

bad=0
for n in 0 -1 2x '' 99999999999999999999; do
	ctl scan --limit "$n"
	fails_with 2 || bad=1
done
[ "$bad" -eq 0 ]
ok $? "a bad --limit (0, -1, 2x, empty, too big) is a usage error, exit 2"

bad=0
for n in -1 abc 18446744073709551616; do
	ctl scan --limit 2 --cursor "$n"
	fails_with 2 || bad=1
done
ctl get greeting --prefix g
fails_with 2 || bad=1
ctl scan extra
fails_with 2 || bad=1
[ "$bad" -eq 0 ]
ok $? "a bad --cursor, a scan option on get, a scan argument: exit 2"

ctl append ap:new
fails_with 2
ok $? "append without a value is a usage error"

ctl flush
rc1=$rc out1=$out
ctl keys
[ "$rc1" -eq 0 ] && [[ $out1 =~ ^[0-9]+$ ]] && [ "$out1" -ge 1 ] &&
	[ "$rc" -eq 0 ] && [ ! -s "$dir/out" ]
ok $? "flush prints a count of at least 1, and keys then prints nothing"

ctl frobnicate
fails_with 2
ok $? "an unknown command exits 2 with one line on stderr"

ctl set onlykey
fails_with 2
ok $? "a command with missing arguments exits 2 with one line on stderr"

ctl set k v --ttl 12x
fails_with 2
ok $? "a bad --ttl number exits 2 with one line on stderr"

timeout 10 "$CTL" --name "nobody-$$-$RANDOM" ping >"$dir/out" 2>"$dir/err"
rc=$?
fails_with 1
ok $? "a name nobody serves exits 1 with one line on stderr"

ctl config get
[ "$rc" -eq 0 ] && grep -qx 'eviction noeviction' "$dir/out" &&
	grep -qx 'memory 16777216' "$dir/out"
ok $? "config get prints the effective settings"

ctl config set eviction sieve
[ "$rc" -eq 0 ] && [ "$out" = OK ] && ctl config get &&
	grep -qx 'eviction sieve' "$dir/out"
ok $? "config set eviction sieve prints OK and takes effect"

ctl config set eviction fastest
fails_with 1 && grep -q "eviction 'fastest'" "$dir/err"
ok $? "an unknown policy exits 1 with one line naming it"

ctl config set eviction
fails_with 2
ok $? "config set without a value exits 2 with one line on stderr"

if command -v python3 >/dev/null 2>&1; then
	ctl stats --json
	[ "$rc" -eq 0 ] && python3 -c '
import json, sys
d = json.load(sys.stdin)
assert all(isinstance(d[k], int) for k in ("keys", "memory_used",
	   "memory_limit", "hits", "misses", "evictions", "expirations"))
' <"$dir/out"
	ok $? "stats --json is one JSON object with the integer counters"
else
	skip "no python3"
fi

stop_for_ok
[ "$status" -eq 0 ] && segments_gone
ok $? "kvshmd exits 0 on SIGTERM and removes both segments"
[ "$status" -eq 0 ] || show_log

timeout 5 "$CTL" --name "$name" ping >"$dir/out" 2>"$dir/err"
rc=$?
fails_with 1
ok $? "after the stop, ping exits 1 within 5 s"

done_testing
