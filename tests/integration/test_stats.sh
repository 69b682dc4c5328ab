#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_stats.sh - kvshmctl stats, stats --json, stats --prometheus and
# clients against a real kvshmd, as a TAP stream.
#
# After a known number of operations (N sets, H hits, M misses, one
# snapshot, one expiry) the counters must say exactly that, in all three
# forms: the Prometheus output must also pass tests/prom_check.py (the
# grammar of the text format 0.0.4, HELP and TYPE before each family's
# samples, no duplicate series, consistent histograms) with kvshm's
# conventions (kvshm_ prefix, name label, no untyped stat). The checker is
# itself checked on broken inputs first. Waits poll with generous bounds;
# nothing depends on timing. Needs KVSHM_TEST_BUILDDIR and python3.

set -u

. "$(dirname "$0")/../lib/tap.sh" || { echo "Bail out! no tests/lib/tap.sh"; exit 1; }

if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP no python3"
	exit 0
fi
CHECK="python3 $(cd "$(dirname "$0")/.." && pwd)/prom_check.py"

tap_setup tstats
plan_tests 19

# json KEY - the integer KEY of the JSON object in $dir/stats.json.
json() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
		"$dir/stats.json" "$1"
}

# prom SERIES - the value of one series of $dir/stats.prom.
prom() {
	$CHECK --value "$1" "$dir/stats.prom"
}

# poll_stat NAME WANT - wait (20 s at most) until stat NAME is WANT.
poll_stat() {
	local i

	for i in $(seq 400); do
		[ "$("$CTL" --name "$name" stats 2>/dev/null |
		      awk -v n="$1" '$1 == n { print $2 }')" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# ---- the checker catches what it must ----
rc=0
: >"$dir/out"
: >"$dir/err"
bad=0
while IFS= read -r case; do
	printf '%b' "$case" | $CHECK --prefix kvshm_ --label name \
		>/dev/null 2>&1 && { bad=1; echo "# accepted: $case"; }
done <<'EOF'
kvshm_a{name="x"} 1\n
# TYPE kvshm_a gauge\nkvshm_a{name="x"} 1\n
# HELP kvshm_a a\nkvshm_a{name="x"} 1\n
# HELP kvshm_a a\n# TYPE kvshm_a gauge\nkvshm_a{name="x"} 1\nkvshm_a{name="x"} 2\n
# HELP kvshm_a a\n# TYPE kvshm_a gauge\nkvshm_a{name=x} 1\n
# HELP kvshm_a a\n# TYPE kvshm_a gauge\nkvshm_a{name="x"} one\n
# HELP kvshm_a a\n# TYPE kvshm_a gauge\nkvshm_a 1\n
# HELP kvshm_a a\n# TYPE kvshm_a counter\nkvshm_a{name="x"} 1\n
# HELP kvshm_a_total a\n# TYPE kvshm_a_total counter\nkvshm_a_total{name="x"} -1\n
# HELP kvshm_a a\n# TYPE kvshm_a gauge\nkvshm_a{name="x"} 1\n# HELP kvshm_b b\n# TYPE kvshm_b gauge\nkvshm_b{name="x"} 1\nkvshm_a{name="y"} 1\n
# HELP kvshm_a a\n# TYPE kvshm_a gauge\nkvshm_a{name="x"} 1\n# HELP kvshm_a a\n
# HELP kvshm_h h\n# TYPE kvshm_h histogram\nkvshm_h_bucket{name="x",le="1"} 2\nkvshm_h_bucket{name="x",le="+Inf"} 3\nkvshm_h_sum{name="x"} 1\nkvshm_h_count{name="x"} 4\n
# HELP kvshm_h h\n# TYPE kvshm_h histogram\nkvshm_h_bucket{name="x",le="1"} 2\nkvshm_h_bucket{name="x",le="2"} 1\nkvshm_h_bucket{name="x",le="+Inf"} 2\nkvshm_h_sum{name="x"} 1\nkvshm_h_count{name="x"} 2\n
# HELP kvshm_h h\n# TYPE kvshm_h histogram\nkvshm_h_bucket{name="x",le="1"} 2\nkvshm_h_sum{name="x"} 1\nkvshm_h_count{name="x"} 2\n
# HELP a a\n# TYPE a gauge\na{name="x"} 1\n
# HELP kvshm_a a\n# TYPE kvshm_a gauge\nkvshm_a{name="x"} 1
EOF
printf '# HELP kvshm_a_total a\n# TYPE kvshm_a_total counter\nkvshm_a_total{name="x\\"y"} 1\n# HELP kvshm_h h\n# TYPE kvshm_h histogram\nkvshm_h_bucket{name="x",le="0.5"} 1\nkvshm_h_bucket{name="x",le="+Inf"} 2\nkvshm_h_sum{name="x"} 1.5\nkvshm_h_count{name="x"} 2\n' |
	$CHECK --prefix kvshm_ --label name >"$dir/out" 2>&1 || bad=1
[ "$bad" -eq 0 ]
ok $? "prom_check.py refuses 16 broken expositions and accepts a good one"

# ---- a daemon, and known operations ----
start_daemon --name "$name" --data-dir "$dir" --memory 16M --fsync always \
	--foreground

N=25 H=7 M=4
fail=0
for i in $(seq $N); do
	ctl set "key$i" "value $i" || fail=1
done
for i in $(seq $H); do
	ctl get key1 || fail=1
done
for i in $(seq $M); do
	ctl get nokey && fail=1
done
ctl snapshot || fail=1
ctl set short lived --ttl 1 || fail=1
[ "$fail" -eq 0 ]
ok $? "$N sets, $H hits, $M misses, a snapshot and a key with a 1 ms TTL"

poll_stat expirations 1
ok $? "the key with a TTL expires (stats expirations 1 within 20 s)"

# ---- stats: every field the issue lists ----
ctl stats
missing=
for f in uptime_s membarrier keys memory_used memory_free memory_limit \
	memory_pages_free memory_fragmented memory_fragmentation_pct \
	gets hits misses cmd_set cmd_del cmd_incr cmd_mset cmd_batch \
	cmd_ping cmd_stats cmd_snapshot cmd_clients requests \
	evictions evictions_lru evictions_lfu evictions_random \
	evictions_volatile_ttl evictions_sieve evictions_sync \
	evictions_background expirations expirations_write expiry_swept \
	eviction_expired wal_lsn wal_bytes wal_fsyncs wal_fsync_us_avg \
	wal_fsync_us_max wal_fsync_us_sum wal_fsync_us_le_1000 \
	wal_fsync_us_le_inf snapshots snapshot_last_time_ms \
	snapshot_last_duration_ms snapshot_last_bytes grace_periods \
	grace_period_us_le_1000 grace_period_us_le_inf grace_period_us_sum \
	grace_period_us_max readers_stalled readers_stalled_total \
	connections connections_total connections_orphaned reader_slots \
	reader_slots_used; do
	grep -q "^$f " "$dir/out" || missing="$missing $f"
done
[ "$rc" -eq 0 ] && [ -z "$missing" ]
ok $? "stats has every field of issue 7${missing:+ (missing:$missing)}"

grep -Eq '^memory_class_[0-9]+_pages [1-9]' "$dir/out" &&
	grep -Eq '^memory_class_[0-9]+_used [1-9]' "$dir/out"
ok $? "stats has per-size-class memory (memory_class_SIZE_pages, _used)"

# ---- stats --json ----
ctl stats --json
cp "$dir/out" "$dir/stats.json"
[ "$rc" -eq 0 ] && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert all(isinstance(d[k], int) for k in ("keys", "memory_used",
	   "memory_limit", "hits", "misses", "evictions", "expirations"))
assert isinstance(d["membarrier"], str) and isinstance(d["name"], str)
' "$dir/stats.json"
ok $? "stats --json parses and has the contract's integer keys"

[ "$(json cmd_set)" -eq $((N + 1)) ] && [ "$(json hits)" -eq $H ] &&
	[ "$(json misses)" -eq $M ] && [ "$(json snapshots)" -eq 1 ] &&
	[ "$(json keys)" -eq $N ]
ok $? "stats --json counts $((N + 1)) sets, $H hits, $M misses, 1 snapshot, $N keys"

[ "$(json expirations)" -eq $(($(json expiry_swept) + $(json expirations_write) + $(json eviction_expired))) ]
ok $? "expirations is the sum of the sweep's, the writes' and eviction's"

[ "$(json wal_fsyncs)" -ge 1 ] &&
	[ "$(json wal_fsync_us_le_inf)" -eq "$(json wal_fsyncs)" ] &&
	[ "$(json wal_fsync_us_le_10)" -le "$(json wal_fsync_us_le_10000000)" ]
ok $? "under --fsync always the fsync histogram counts every sync"

# ---- stats --prometheus ----
ctl stats --prometheus
cp "$dir/out" "$dir/stats.prom"
[ "$rc" -eq 0 ] && $CHECK --prefix kvshm_ --label name --no-untyped \
	"$dir/stats.prom" >"$dir/err" 2>&1
ok $? "stats --prometheus passes prom_check.py (no stat left untyped)"

[ "$(prom "kvshm_ops_total{op=\"set\"}")" -eq "$(json cmd_set)" ] &&
	[ "$(prom kvshm_hits_total)" -eq "$(json hits)" ] &&
	[ "$(prom kvshm_misses_total)" -eq "$(json misses)" ] &&
	[ "$(prom "kvshm_ops_total{op=\"get\"}")" -eq "$(json gets)" ] &&
	[ "$(prom kvshm_keys)" -eq "$(json keys)" ] &&
	[ "$(prom kvshm_memory_limit_bytes)" -eq "$(json memory_limit)" ] &&
	[ "$(prom kvshm_snapshots_total)" -eq 1 ]
ok $? "prometheus and json agree on sets, hits, misses, gets, keys, memory, snapshots"

[ "$(prom kvshm_wal_fsync_duration_seconds_count)" -eq "$(json wal_fsyncs)" ] &&
	[ "$(prom "kvshm_wal_fsync_duration_seconds_bucket{le=\"0.001\"}")" -eq \
	  "$(json wal_fsync_us_le_1000)" ] &&
	[ "$(prom kvshm_grace_period_duration_seconds_count)" -eq \
	  "$(json grace_period_us_le_inf)" ]
ok $? "histograms: le in seconds, counts equal to the text's"

sum=$(grep '^kvshm_expirations_total{' "$dir/stats.prom" |
	awk '{ s += $2 } END { print s }')
[ "$sum" -eq "$(json expirations)" ] &&
	grep -q '^kvshm_evictions_total{name="'"$name"'",policy="volatile-ttl"} 0$' \
		"$dir/stats.prom"
ok $? "labelled families: expirations by path sum to the total; evictions by policy"

grep -q "^kvshm_info{name=\"$name\",.*membarrier=\"\(expedited\|fenced\)\".*} 1$" \
	"$dir/stats.prom" &&
	grep -Eq '^kvshm_memory_class_used_bytes\{name="[^"]*",size_class="[0-9]+"\} [1-9]' \
		"$dir/stats.prom" &&
	python3 -c 'import sys; sys.exit(abs(float(sys.argv[1]) * 1000 - int(sys.argv[2])) > 0.5)' \
		"$(prom kvshm_snapshot_last_timestamp_seconds)" \
		"$(json snapshot_last_time_ms)"
ok $? "kvshm_info carries the modes; size classes are labels; ms become seconds"

ctl stats --json --prometheus
[ "$rc" -eq 2 ] && [ ! -s "$dir/out" ]
ok $? "stats --json --prometheus is a usage error"

# ---- clients ----
ctl clients
[ "$rc" -eq 0 ] && head -1 "$dir/out" | grep -q '^ *PID  *UID  *GID  *SLOTS ' &&
	[ "$(awk 'NR > 1 && $9 == "self"' "$dir/out" | wc -l)" -eq 1 ]
ok $? "clients prints a header, then its own connection as self"

ctl clients --json
[ "$rc" -eq 0 ] && python3 -c '
import json, os, sys
l = json.load(open(sys.argv[1]))
me = [c for c in l if c["state"] == "self"]
assert len(me) == 1, l
me = me[0]
assert me["uid"] == os.getuid() and me["gid"] == os.getgid(), me
assert me["pid"] > 0 and me["slots"] == 0 and me["requests"] >= 2, me
assert me["bytes_in"] > 0 and me["bytes_out"] > 0, me
assert set(me) == {"pid", "uid", "gid", "slots", "requests", "bytes_in",
		   "bytes_out", "connected_s", "state"}, me
' "$dir/out"
ok $? "clients --json: a JSON array, its own entry with our uid and gid"

ctl clients --prometheus
[ "$rc" -eq 2 ]
ok $? "clients --prometheus is a usage error"

stop_for_ok
[ "$status" -eq 0 ]
ok $? "kvshmd exits 0 on SIGTERM"

done_testing
