#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_kvshmctl_data.sh - kvshmctl's data commands against a real kvshmd,
# as a TAP stream: values from files and standard input, binary-safe and
# --escape output and their round trip through batch input, get --meta,
# cas, casdel, batch, scan --range.
#
# Same frame as test_kvshmctl.sh (tests/lib/tap.sh): one kvshmd under a
# name of its own (so make -j check is safe), exit codes 0 success,
# 1 failure with one stderr line, 2 usage error; the daemon is stopped with
# SIGTERM at the end. Needs KVSHM_TEST_BUILDDIR, the absolute build
# directory. Processes are stopped by PID only, never by name; the daemon
# and its data directory never outlive the test (trap on EXIT).

set -u

. "$(dirname "$0")/../lib/tap.sh" || { echo "Bail out! no tests/lib/tap.sh"; exit 1; }

tap_setup tctld
plan_tests 39
start_daemon --name "$name" --data-dir "$dir" --memory 16M --foreground

# bin: every byte value, NULs and newlines included, in a file.
printf 'a\0b\nc\r\t"q"\\ end' >"$dir/bin"
for i in $(seq 0 255); do printf "\\x$(printf %02x "$i")"; done >>"$dir/bin"

ctl set b:file --file "$dir/bin"
rc1=$rc out1=$out
ctl get b:file
[ "$rc1" -eq 0 ] && [ "$out1" = OK ] && [ "$rc" -eq 0 ] &&
	{ cat "$dir/bin"; echo; } | cmp -s - "$dir/out"
ok $? "set --file stores every byte (NULs too); get prints them back raw"

ctl set b:short -f "$dir/bin"
ctl strlen b:short
[ "$rc" -eq 0 ] && [ "$out" = "$(wc -c <"$dir/bin")" ]
ok $? "-f is --file; strlen counts every byte of the file"

ctl set b:stdin - <"$dir/bin"
ctl get b:stdin
[ "$rc" -eq 0 ] && { cat "$dir/bin"; echo; } | cmp -s - "$dir/out"
ok $? "a VALUE of - reads standard input byte for byte"

ctl set b:stdin2 --stdin <"$dir/bin"
ctl get b:stdin2
[ "$rc" -eq 0 ] && { cat "$dir/bin"; echo; } | cmp -s - "$dir/out"
ok $? "--stdin reads standard input byte for byte"

ctl set b:empty --stdin </dev/null
ctl strlen b:empty
[ "$rc" -eq 0 ] && [ "$out" = 0 ]
ok $? "empty standard input stores an empty value"

ctl set b:esc "$(printf 'x\001y')"
ctl get b:esc --escape
[ "$rc" -eq 0 ] && [ "$out" = 'x\x01y' ]
ok $? "get --escape prints a control byte as \\xHH"

ctl get b:file -e
esc=$out
[ "$rc" -eq 0 ] && [ "$(wc -l <"$dir/out")" -eq 1 ] &&
	[[ $esc == 'a\x00b\nc\r\t\"q\"\\ end\x00\x01'* ]]
ok $? "get -e prints one line: NUL as \\x00, \\n \\r \\t, quote and backslash escaped"

printf 'put b:back "%s"\n' "$esc" >"$dir/ops"
ctl batch --file "$dir/ops"
rc1=$rc
ctl get b:back
[ "$rc1" -eq 0 ] && { cat "$dir/bin"; echo; } | cmp -s - "$dir/out"
ok $? "get --escape output, quoted in a batch line, stores the same bytes"

ctl append b:app --file "$dir/bin"
rc1=$rc out1=$out
ctl append b:app - <"$dir/bin"
ctl strlen b:app
[ "$rc1" -eq 0 ] && [ "$out1" = "$(wc -c <"$dir/bin")" ] && [ "$rc" -eq 0 ] &&
	[ "$out" = $((2 * $(wc -c <"$dir/bin"))) ]
ok $? "append takes its value from a file or standard input"

ctl set b:gs old
ctl getset b:gs --stdin <"$dir/bin"
rc1=$rc out1=$out
ctl get b:gs
[ "$rc1" -eq 0 ] && [ "$out1" = old ] && [ "$rc" -eq 0 ] &&
	{ cat "$dir/bin"; echo; } | cmp -s - "$dir/out"
ok $? "getset --stdin stores standard input and prints the old value"

ctl set b:x --file "$dir/missing"
fails_with 1
ok $? "an unreadable --file exits 1 with one line on stderr"

bad=0
ctl set b:x v --file "$dir/bin"
fails_with 2 || bad=1
ctl set b:x --file "$dir/bin" --stdin
fails_with 2 || bad=1
ctl get b:x --file "$dir/bin"
fails_with 2 || bad=1
ctl del b:x --escape
fails_with 2 || bad=1
[ "$bad" -eq 0 ]
ok $? "VALUE with --file, --file with --stdin, --file on get, --escape on del: exit 2"

ctl set m:k hello --ttl 86400000
ctl get m:k --meta
[ "$rc" -eq 0 ] && [ "$(wc -l <"$dir/out")" -eq 6 ] &&
	grep -qE '^version [1-9][0-9]*$' "$dir/out" &&
	grep -qx 'length 5' "$dir/out" &&
	grep -qE '^ttl_ms [0-9]+$' "$dir/out" &&
	grep -qE '^expire_ms [1-9][0-9]+$' "$dir/out" &&
	grep -qx 'flags ttl' "$dir/out" && [ "$(tail -n 1 "$dir/out")" = 'value hello' ]
ok $? "get --meta prints version, length, ttl_ms, expire_ms, flags, then the value"

ver=$(sed -n 's/^version //p' "$dir/out")
ctl set m:plain v
ctl get m:plain --meta
[ "$rc" -eq 0 ] && grep -qx 'ttl_ms -1' "$dir/out" &&
	grep -qx 'expire_ms 0' "$dir/out" && grep -qx 'flags none' "$dir/out"
ok $? "get --meta of a key without expiry: ttl_ms -1, expire_ms 0, flags none"

ctl get b:esc --meta -e
[ "$rc" -eq 0 ] && [ "$(tail -n 1 "$dir/out")" = 'value x\x01y' ]
ok $? "get --meta --escape escapes the value"

ctl get m:none --meta
fails_with 1
ok $? "get --meta of a missing key exits 1 with one line on stderr"

ctl cas m:k "$ver" world
rc1=$rc nver=$out
ctl get m:k
[ "$rc1" -eq 0 ] && [[ $nver =~ ^[0-9]+$ ]] && [ "$nver" -gt "$ver" ] &&
	[ "$out" = world ]
ok $? "cas with the current version stores and prints the new version"

ctl cas m:k "$ver" again
fails_with 1
rc1=$?
ctl get m:k
[ "$rc1" -eq 0 ] && [ "$out" = world ]
ok $? "cas with an old version exits 1 and changes nothing"

ctl cas m:k "$nver" --file "$dir/bin"
rc1=$rc
ctl get m:k
[ "$rc1" -eq 0 ] && { cat "$dir/bin"; echo; } | cmp -s - "$dir/out"
ok $? "cas takes its value from --file"

ctl cas m:new 0 first
rc1=$rc
ctl cas m:new 0 second
fails_with 1 && [ "$rc1" -eq 0 ] && ctl get m:new && [ "$out" = first ]
ok $? "cas with version 0 stores an absent key once, then exits 1"

ctl cas m:absent 5 v
fails_with 1
ok $? "cas with a version on an absent key exits 1 with one line on stderr"

bad=0
for v in x -1 1.5 '' 18446744073709551616; do
	ctl cas m:k "$v" v
	fails_with 2 || bad=1
done
ctl casdel m:k
fails_with 2 || bad=1
[ "$bad" -eq 0 ]
ok $? "a bad VERSION, or casdel without one, is a usage error"

ctl get m:new --meta
v=$(sed -n 's/^version //p' "$dir/out")
ctl casdel m:new $((v + 1))
rc1=$rc
ctl casdel m:new "$v"
[ "$rc1" -eq 1 ] && [ "$rc" -eq 0 ] && [ "$out" = 1 ] &&
	{ ctl get m:new; fails_with 1; }
ok $? "casdel with another version exits 1; with the current one deletes"

ctl set bt:old o
ctl set bt:gone g
cat >"$dir/ops" <<'OPS'
# a comment, then a blank line

put bt:a "hello world"
put bt:t tv ttl=86400000
put "bt:sp ace" a\ b\x00c
del bt:gone
del bt:never
put bt:old new xx
OPS
ctl batch <"$dir/ops"
rc1=$rc out1=$out
ctl mget bt:a bt:t bt:old bt:gone --escape
out2=$out
ctl get "bt:sp ace" -e
[ "$rc1" -eq 0 ] && [ "$out1" = OK ] &&
	[ "$out2" = "$(printf 'hello world\ntv\nnew\n')" ] && [ "$out" = 'a b\x00c' ]
ok $? "batch from standard input applies puts, TTLs, deletes and conditions"

ctl ttl bt:t
[ "$rc" -eq 0 ] && [ "$out" -ge 1 ] && [ "$out" -le 86400000 ]
ok $? "a batch put with ttl= has that TTL"

printf 'put bt:n1 v\nput bt:old again nx\nput bt:n2 v\n' >"$dir/ops"
ctl batch <"$dir/ops"
fails_with 1 && grep -qx 'kvshmctl: batch: line 2: key already exists' "$dir/err" &&
	ctl get bt:old && [ "$out" = new ] && { ctl get bt:n1; fails_with 1; }
ok $? "a failed condition exits 1 naming its line, and nothing is applied"

bt_ver=$(ctl get bt:a --meta; sed -n 's/^version //p' "$dir/out")
printf 'put bt:a v2 ver=%s\ndel bt:t ver=%s\n' "$bt_ver" "$bt_ver" >"$dir/ops"
ctl batch -f "$dir/ops"
fails_with 1 && grep -qx 'kvshmctl: batch: line 2: key changed: its version is not the one expected' "$dir/err" &&
	ctl get bt:a && [ "$out" = 'hello world' ]
ok $? "ver= conditions: a stale one fails the batch, naming its line"

printf 'put bt:a v2 ver=%s\n' "$bt_ver" >"$dir/ops"
ctl batch -f "$dir/ops"
[ "$rc" -eq 0 ] && ctl get bt:a && [ "$out" = v2 ]
ok $? "a current ver= condition lets the batch apply"

bad=0
for line in 'get k' 'put k' 'put "" v' 'put k v bogus' 'put k v nx xx' \
	'del k nx' 'del k ttl=5' 'put k v ttl=-1' 'put k "open' 'put k a"b' \
	'put k \q' 'put k \x4' 'del k ver=abc'; do
	printf 'put bt:ok v\n%s\n' "$line" >"$dir/ops"
	ctl batch <"$dir/ops"
	if ! fails_with 2 || ! grep -q '^kvshmctl: batch: line 2: ' "$dir/err"; then
		echo "# line: $line"
		bad=1
	fi
done
ctl get bt:ok
fails_with 1 && [ "$bad" -eq 0 ]
ok $? "a malformed batch line is a usage error naming the line; nothing applied"

ctl batch </dev/null
fails_with 2
ok $? "an empty batch is a usage error"

ctl batch extra
fails_with 2
ok $? "batch takes no argument"

ctl batch --file "$dir/missing"
fails_with 1
ok $? "batch --file of an unreadable file exits 1 with one line on stderr"

printf 'put "bt:k\\x00\\x01" v\n' >"$dir/ops"
ctl batch <"$dir/ops"
ctl keys 'bt:k*' --escape
[ "$rc" -eq 0 ] && [ "$out" = 'bt:k\x00\x01' ]
ok $? "keys --escape prints a binary key escaped"

ctl scan --prefix bt:k -e
[ "$rc" -eq 0 ] && [ "$out" = 'bt:k\x00\x01' ]
ok $? "scan --escape prints a binary key escaped"

ctl mset rg:a 1 rg:b 2 rg:bb 3 rg:c 4 rg:d 5
ctl scan --range rg:b..rg:c --sorted
[ "$rc" -eq 0 ] && [ "$out" = "$(printf 'rg:b\nrg:bb')" ]
ok $? "scan --range MIN..MAX lists the keys in [MIN, MAX)"

ctl scan --range rg:c.. --prefix rg: --sorted
rc1=$rc out1=$out
ctl scan --range ..rg:b --prefix rg: --sorted
[ "$rc1" -eq 0 ] && [ "$out1" = "$(printf 'rg:c\nrg:d')" ] &&
	[ "$rc" -eq 0 ] && [ "$out" = rg:a ]
ok $? "scan --range with an open end bounds one side only"

bad=0
ctl scan --range rg:b
fails_with 2 || bad=1
ctl scan --range a..b --min a
fails_with 2 || bad=1
[ "$bad" -eq 0 ]
ok $? "--range without .., or with --min: usage error"

ctl stats
[ "$rc" -eq 0 ] && grep -qE '^cmd_batch [1-9]' "$dir/out" &&
	grep -qE '^cmd_cas [1-9]' "$dir/out" && grep -qE '^cmd_casdel [1-9]' "$dir/out"
ok $? "stats count cmd_batch, cmd_cas and cmd_casdel"

stop_for_ok
[ "$status" -eq 0 ] && segments_gone
ok $? "kvshmd exits 0 on SIGTERM and removes both segments"
[ "$status" -eq 0 ] || show_log

done_testing
