#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_compare.sh - a smoke test of tools/kvshm-compare, the driver of
# tools/compare, that needs none of the peers (Redis, memcached, LMDB):
# its own workload generator, Zipf sampler and histogram (--self-test),
# then every workload against a kvshmd of its own at a tiny size, 1 and 2
# client processes. Fast (a few seconds); the real comparison is never
# part of make check. The daemon is stopped by PID and its directory
# removed on EXIT.

set -u

. "$(dirname "$0")/../lib/tap.sh" || { echo "Bail out! no tests/lib/tap.sh"; exit 1; }
DRV=$KVSHM_TEST_BUILDDIR/tools/kvshm-compare

tap_setup tcmp
plan_tests 7

"$DRV" --self-test >"$dir/out" 2>"$dir/err"
rc=$?
sed 's/^/# self-test: /' "$dir/out"
[ $rc -eq 0 ] && ! grep -q '^not ok' "$dir/out" &&
	[ "$(grep -c '^ok' "$dir/out")" -eq "$(sed -n 's/^1\.\.//p' "$dir/out")" ]
ok $? "the driver's key generator, Zipf sampler and histogram pass their checks"

"$DRV" --list-backends >"$dir/out" 2>"$dir/err"
grep -qx kvshm "$dir/out" && grep -qx null "$dir/out"
ok $? "the driver always has the kvshm and null backends"

start_daemon --name "$name" --data-dir "$dir" --memory 32M --persistence none \
	--foreground

timeout 60 "$DRV" --backend kvshm --name "$name" --server-pid "$pid" \
	--keys 2000 --load --ops 1000 --procs 1,2 --csv "$dir/r.csv" \
	--label smoke --hist-dir "$dir" >"$dir/out" 2>"$dir/err"
ok $? "every workload runs against kvshmd with 1 and 2 client processes"

# header + 1 mem row + 6 workloads x 2 distributions x 2 process counts
[ "$(wc -l <"$dir/r.csv")" -eq 26 ] &&
	[ "$(grep -c '^run,smoke,kvshm,2000,100,' "$dir/r.csv")" -eq 24 ]
ok $? "the CSV has the header, a memory row and one row per measurement"

awk -F, 'NR > 1 && ($16 != 0 || ($1 == "run" && $12 <= 0)) { bad = 1 }
	 END { exit bad }' "$dir/r.csv"
ok $? "no measurement saw an error, and each has a throughput"

timeout 60 "$DRV" --backend kvshm --name "$name" --keys 2000 --ops 1000 \
	--procs 1 --depth 16 --workloads set --dists uniform \
	--csv "$dir/r.csv" >"$dir/out" 2>"$dir/err" &&
	grep -q '^run,,kvshm-mset16,2000,100,uniform,set,1,16,1000,' "$dir/r.csv"
ok $? "the batched SET variant (kvshm_mset of 16) runs"

bad=0
for k in 0 16 x; do
	timeout 10 "$DRV" --backend kvshm --name "$name" --keys 2000 \
		--ops 1000 --rounds "$k" >"$dir/out" 2>"$dir/err"
	[ $? -eq 2 ] && grep -q -- '--rounds' "$dir/err" || bad=1
done
[ $bad -eq 0 ]
ok $? "--rounds outside 1..15 is refused with the usage"

stop_daemon
done_testing
exit 0
