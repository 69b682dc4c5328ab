#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_churn.sh - a smoke test of tools/kvshm-churn, the heap-utilisation
# benchmark: on a tiny configuration (16M, few churn operations) every
# scenario runs on a kvshmd of its own, the Markdown table has a row per
# phase, and no daemon, segment or directory outlives the run. The
# percentages are benchmark results (BENCHMARKS.md), never checked here.

set -u

. "$(dirname "$0")/../lib/tap.sh" || { echo "Bail out! no tests/lib/tap.sh"; exit 1; }
DRV=$KVSHM_TEST_BUILDDIR/tools/kvshm-churn

tap_setup tchurn
plan_tests 4

timeout 120 "$DRV" --kvshmd "$KVSHMD" --memory 16M --key-factor 2 \
	--churn-ops 2000 --classes >"$dir/out" 2>"$dir/err" &
cpid=$!
wait $cpid
rc=$?
sed 's/^/# /' "$dir/err"
[ $rc -eq 0 ]
ok $? "kvshm-churn runs every scenario and exits 0"

grep -q '^| scenario | phase | ops | keys | evictions | live / limit |' "$dir/out" &&
	[ "$(grep -cE '^\| (mixed|shift|wide) \| [a-z]' "$dir/out")" -eq 8 ] &&
	[ "$(grep -c '^| scenario |' "$dir/out")" -eq 1 ]
ok $? "it prints one table, a row per phase (2 mixed, 4 shift, 2 wide)"

! ls /dev/shm/kvshm-churn-$cpid-* >/dev/null 2>&1 &&
	! running "$cpid"
ok $? "its kvshmds are gone, and their segments"

"$DRV" --kvshmd "$KVSHMD" --scenarios nosuch >"$dir/out" 2>"$dir/err"
[ $? -eq 2 ]
ok $? "an unknown scenario is a usage error (exit 2)"

done_testing
exit 0
