#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_heapsim.sh - a smoke test of tools/kvshm-heapsim, the offline
# comparison of the slab heap (daemon/alloc.c) with a segment-structured
# one: on a tiny heap (8M, few churn operations) it exits 0 (its own
# accounting checks passed), prints a row per scenario, phase and heap,
# every percentage is one, large items take runs of segments when the
# segments are small, and a bad command line is exit 2. The figures are
# benchmark results (bench-results/heapsim-*.md), never checked here.

set -u

. "$(dirname "$0")/../lib/tap.sh" || { echo "Bail out! no tests/lib/tap.sh"; exit 1; }
SIM=$KVSHM_TEST_BUILDDIR/tools/kvshm-heapsim

tap_setup thsim
plan_tests 7

timeout 60 "$SIM" --memory 8M --ops-factor 1 >"$dir/out" 2>"$dir/err"
rc=$?
sed 's/^/# /' "$dir/err"
[ $rc -eq 0 ]
ok $? "kvshm-heapsim runs every scenario on both heaps and exits 0"

# A row per phase and heap: mixed 2, shift 4, wide 2, fixed100 2.
rows_ok() {
	local s n h

	[ "$(grep -c '^| scenario |' "$1")" -eq 1 ] || return 1
	for s in mixed:2 shift:4 wide:2 fixed100:2; do
		n=${s#*:}
		for h in slab segment; do
			[ "$(grep -cE "^\| ${s%:*} \| [^|]+ \| $h \|" "$1")" \
				-eq "$n" ] || return 1
		done
	done
	[ "$(grep -cE '^\| [a-z0-9]+ \| [^|]+ \| (slab|segment) \|' "$1")" \
		-eq 20 ]
}
rows_ok "$dir/out"
ok $? "one table, a row per scenario, phase and heap (20)"

# Every cell ending in % is a number from 0 to 100; each row has three.
awk -F'|' '/^\| [a-z0-9]+ \| [^|]+ \| (slab|segment) \|/ {
		n = 0
		for (i = 2; i < NF; i++) {
			v = $i; gsub(/ /, "", v)
			if (v !~ /%$/) continue
			n++; sub(/%$/, "", v)
			if (v !~ /^[0-9]+(\.[0-9]+)?$/ || v + 0 > 100) exit 1
		}
		if (n != 3) exit 1
	}' "$dir/out"
ok $? "every percentage is between 0 and 100"

awk -F'|' '/^\| [a-z0-9]+ \| [^|]+ \| segment \|/ {
		v = $13; gsub(/ /, "", v)
		if (v !~ /^[0-9]+\.[0-9]+$/) exit 1
	}' "$dir/out"
ok $? "the segment heap's rows have a write amplification"

# Segments smaller than the largest values: runs of whole segments.
timeout 60 "$SIM" --memory 8M --ops-factor 1 --segment-size 32K \
	--scenarios wide >"$dir/out" 2>"$dir/err"
rc=$?
sed 's/^/# /' "$dir/err"
[ $rc -eq 0 ] && [ "$(grep -cE '^\| wide \|' "$dir/out")" -eq 4 ]
ok $? "with 32K segments and 64K values it still balances (exit 0)"

"$SIM" --memory 8M --nosuch >"$dir/out" 2>"$dir/err"
[ $? -eq 2 ]
ok $? "an unknown flag is a usage error (exit 2)"

"$SIM" --memory 8M --scenarios nosuch >"$dir/out" 2>"$dir/err" ||
	rc=$?
[ "$rc" -eq 2 ] &&
	{ "$SIM" --memory 12Q >/dev/null 2>&1; [ $? -eq 2 ]; }
ok $? "an unknown scenario or a bad size is a usage error (exit 2)"

done_testing
exit 0
