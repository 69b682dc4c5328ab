#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_bench.sh - a smoke test of tools/kvshm-bench, the read-path
# benchmark against a private hash table: against a daemon of the test's
# own (--name, so the bench starts none and runs no SET section) with a
# few thousand keys and short passes, it exits 0, loads every key, prints
# a row per operation, system and process count with no errors, and a
# line per point with each round's ratio and their median; a bad command
# line is exit 2, a cache nobody serves exit 1. The figures themselves
# are benchmark results (BENCHMARKS.md), never checked here.

set -u

. "$(dirname "$0")/../lib/tap.sh" || { echo "Bail out! no tests/lib/tap.sh"; exit 1; }
BENCH=$KVSHM_TEST_BUILDDIR/tools/kvshm-bench

tap_setup tbench
plan_tests 14
start_daemon --name "$name" --data-dir "$dir" --foreground \
	--persistence none --memory 16M

bench() {
	timeout 120 "$BENCH" --name "$name" "$@" >"$dir/out" 2>"$dir/err"
	rc=$?
}

bench --keys 3000 --readers 2 --secs 0.05 --rounds 3
[ $rc -eq 0 ]
ok $? "kvshm-bench --rounds 3 with 2 readers exits 0"

# 3 operations x 2 systems x P = 1, 2; the errors column is the last.
awk -F'|' '
	/^\| get (hit|dep|miss) +\| (kvshm|private) +\| +[12] \|/ {
		n++
		e = $(NF - 1); gsub(/ /, "", e)
		if (e != "0") bad = 1
	}
	END { exit !(n == 12 && !bad) }' "$dir/out"
ok $? "12 rows (get hit, dep, miss; kvshm and private; P=1, 2), no errors"

# The dependent rows' p50 <= p99 <= p99.9, each the lower edge of a
# bucket of 1/32 of a power of two (below 32 ns, any whole ns).
awk -F'|' '
	function edge(v) {
		if (v < 32) return v >= 0
		for (; v >= 64; v /= 2) {
			if (v % 2) return 0
		}
		return v >= 32 && v == int(v)
	}
	/^\| get dep +\|/ {
		n++
		for (i = 7; i <= 9; i++) { p[i] = $i + 0; if (!edge(p[i])) bad = 1 }
		if (p[7] > p[8] || p[8] > p[9] || p[7] <= 0) bad = 1
	}
	END { exit !(n == 4 && !bad) }' "$dir/out" &&
	grep -q '^# latency buckets: 32 to each power of 2 ' "$dir/out"
ok $? "dependent latencies: p50 <= p99 <= p99.9, on 1/32-octave bucket edges"

# "# get hit, P=1: ... by round: A B C; median M", M the middle of three.
medians_ok() {
	awk -v want="$1" -v k="$2" '
		/^# get (hit|dep|miss), P=[12]: .* by round:/ {
			n++
			s = $0; sub(/.*by round: /, "", s)
			split(s, part, "; median ")
			m = split(part[1], v, " ")
			if (m != k) exit 1
			for (i = 1; i <= m; i++)
				for (j = i + 1; j <= m; j++)
					if (v[j] + 0 < v[i] + 0) {
						x = v[i]; v[i] = v[j]; v[j] = x
					}
			med = m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
			d = med - part[2]
			if (d > 0.0051 || d < -0.0051 || part[2] + 0 <= 0) exit 1
		}
		END { exit n != want }' "$dir/out"
}
medians_ok 6 3
ok $? "a ratio line per point: three rounds, their median"

grep -q "^# eviction policy: the daemon's; readers leave access hints: no$" \
	"$dir/out"
ok $? "under noeviction, it says readers leave no access hints"

# Each reader process read every key once before its pass: the mean
# time of that, per system, is more than nothing.
awk '/^# warm-up: before its pass, each reader process read every key once, untimed: kvshm [0-9.]+ ms, private [0-9.]+ ms \(mean\)$/ {
	a = $0; sub(/.*untimed: kvshm /, "", a); b = a
	sub(/ ms, private.*/, "", a); sub(/.* private /, "", b)
	if (a + 0 > 0 && b + 0 > 0) n++
} END { exit n != 1 }' "$dir/out" && ! grep -q '^# cold' "$dir/out"
ok $? "it says how long each process's untimed read of every key took"

# Value i: 8 bytes of the next key's index, then 'a' + i % 26 (j for
# 2999), and kvshmctl's newline.
ctl get key:0000002999
[ $rc -eq 0 ] && [ "$(wc -c <"$dir/out")" -eq 101 ] &&
	[ "$(tail -c 93 "$dir/out" | head -c 92 | tr -d j | wc -c)" -eq 0 ]
ok $? "the bench loaded its keys into the daemon (the last one: 100 bytes)"

bench --keys 2000 --readers 1 --secs 0.02 --rounds 2 --value-size 40
[ $rc -eq 0 ] && medians_ok 3 2
ok $? "two rounds: the median is the mean of the two"

bench --keys 2000 --readers 1 --secs 0.02 --rounds 1 --zipf 0.99 --cold
[ $rc -eq 0 ] && medians_ok 3 1 && grep -q '^# zipf theta 0.99' "$dir/out" &&
	grep -q '^# cold: no warm-up' "$dir/out" && ! grep -q '^# warm-up' "$dir/out"
ok $? "one round, Zipf keys, --cold: no warm-up, and it says so"

ctl config set eviction sieve
bench --keys 1000 --readers 1 --secs 0.01 --rounds 1
[ $rc -eq 0 ] &&
	grep -q "readers leave access hints: the visited bit only$" "$dir/out"
ok $? "under sieve, it says they leave the visited bit"

bad=0
bench --keys 100 --eviction lru		# only for a daemon it starts
[ $rc -eq 2 ] || bad=1
for r in 0 16 x; do
	bench --keys 100 --rounds "$r"
	[ $rc -eq 2 ] || bad=1
done
ok $bad "--rounds 0, 16 or x, or --eviction with --name, is a usage error (exit 2)"

# A daemon it starts that exits at once (an unknown policy): not 10 s of
# waiting for it to serve.
timeout 8 "$BENCH" --kvshmd "$KVSHMD" --eviction nosuch --keys 100 \
	>"$dir/out" 2>"$dir/err"
rc=$?
[ $rc -eq 1 ] && grep -q 'could not start' "$dir/err"
ok $? "a kvshmd that exits at start-up: exit 1 at once, 'could not start'"

timeout 20 "$BENCH" --keys 100 >"$dir/out" 2>"$dir/err"
rc=$?
[ $rc -eq 2 ] && grep -q '^Usage: kvshm-bench' "$dir/err"
ok $? "neither --name nor --kvshmd: usage (exit 2)"

timeout 20 "$BENCH" --name "$name-none" --keys 100 >"$dir/out" 2>"$dir/err"
rc=$?
[ $rc -eq 1 ] && grep -q 'cannot attach' "$dir/err"
ok $? "a cache nobody serves: exit 1, 'cannot attach'"

done_testing
exit 0
