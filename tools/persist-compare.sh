#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tools/persist-compare.sh - kvshm's durability side by side with Redis on
# the same data, in one command (see BENCHMARKS.md, "Durability").
#
#   tools/persist-compare.sh [BUILDDIR]        (default: ./build)
#
# Environment: KEYS="1000000 10000000" (sizes for snapshot and restart),
# REPS=3 (restarts per point, median shown), WRITES=yes (run the fsync
# policy write test once), REDIS=yes, KVSHM=yes, WBENCH_ARGS (extra
# arguments for kvshm-wbench, e.g. --text-values).
#
# kvshm: tools/kvshm-wbench starts and stops its own kvshmd.
# Redis: redis-server on a unix socket (port 0) in a temporary directory,
# the same keys and values (kvshm-wbench --resp) loaded with
# `redis-cli --pipe`; SAVE; restarts timed until DBSIZE == N, with Redis's
# own "DB loaded from ..." line beside; then the same with appendonly yes
# (appendfsync everysec, rewrite off) replaying the AOF.
#
# Everything it starts is stopped by PID and its directories removed,
# also on ^C. It never touches a Redis it did not start.
set -eu

BUILD=${1:-build}
KEYS=${KEYS:-"1000000 10000000"}
REPS=${REPS:-3}
WRITES=${WRITES:-yes}
REDIS=${REDIS:-yes}
KVSHM=${KVSHM:-yes}
WBENCH_ARGS=${WBENCH_ARGS:-}
WB=$BUILD/tools/kvshm-wbench
KVSHMD=$BUILD/daemon/kvshmd

for f in "$WB" "$KVSHMD"; do
	[ -x "$f" ] || { echo "persist-compare: $f not built" >&2; exit 2; }
done
if [ "$REDIS" = yes ] && ! command -v redis-server >/dev/null; then
	echo "persist-compare: redis-server not found" \
	     "(apt-get install redis-server redis-tools)" >&2
	exit 2
fi

TMP=$(mktemp -d /tmp/kvshm-redis-XXXXXX)
RPID=
cleanup() {
	if [ -n "$RPID" ]; then
		kill "$RPID" 2>/dev/null || true
		wait "$RPID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
sub() { echo "$1 $2" | awk '{ printf "%.3f", $1 - $2 }'; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

SOCK=$TMP/redis.sock
rcli() { redis-cli -s "$SOCK" "$@"; }

# redis_start DIR APPENDONLY: start, wait until it answers (not LOADING);
# STARTED is the seconds that took. (Not in a $(...): the server would
# hold its output open, and RPID must stay in this shell.)
readies() {
	c=$(grep -ci "ready to accept connections" "$1/redis.log" 2>/dev/null) || true
	echo "${c:-0}"
}

redis_start() {
	ready=$(readies "$1")
	t0=$(now)
	redis-server --port 0 --unixsocket "$SOCK" --dir "$1" \
		--dbfilename dump.rdb --save '' --appendonly "$2" \
		--appendfsync everysec --auto-aof-rewrite-percentage 0 \
		--logfile "$1/redis.log" --daemonize no </dev/null >/dev/null 2>&1 &
	RPID=$!
	# Its log says when it serves; polling with redis-cli would cost
	# the loading server CPU on a 2-vCPU machine.
	while [ "$(readies "$1")" -le "$ready" ]; do
		kill -0 "$RPID" 2>/dev/null ||
			{ echo "persist-compare: redis-server died" >&2; exit 1; }
		sleep 0.01
	done
	STARTED=$(sub "$(now)" "$t0")
	# user+system CPU seconds it used to get there (fields 14, 15)
	CPU=$(sed 's/.*) //' "/proc/$RPID/stat" |
		awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($12 + $13) / hz }')
}

redis_stop() {
	kill "$RPID"
	wait "$RPID" || true
	RPID=
}

# restarts DIR AOF(yes|no) WHAT N - REPS restarts of Redis on DIR, each
# checked to hold N keys; medians in R_SERVE, R_LOG and R_CPU.
restarts() {
	local serve= logged= cpu= i=0

	while [ "$i" -lt "$REPS" ]; do
		redis_start "$1" "$2"
		[ "$(rcli dbsize)" = "$4" ] ||
			{ echo "persist-compare: $3 restart lost keys" >&2; exit 1; }
		serve="$serve $STARTED"
		cpu="$cpu $CPU"
		logged="$logged $(redis_logged "$1")"
		redis_stop
		i=$((i + 1))
	done
	R_SERVE=$(echo "$serve" | median)
	R_LOG=$(echo "$logged" | median)
	R_CPU=$(echo "$cpu" | median)
}

# The "DB loaded from disk: 0.712 seconds" of the last start, in seconds.
redis_logged() {
	grep -E "DB loaded from (disk|append only file)" "$1/redis.log" |
		tail -1 | sed -E 's/.*: ([0-9.]+) seconds.*/\1/'
}

redis_side() {
	n=$1
	dir=$TMP/redis-$n
	rm -rf "$dir"
	mkdir -p "$dir"
	"$WB" --resp "$n" $WBENCH_ARGS > "$TMP/data.resp"
	resp_mb=$(du -m "$TMP/data.resp" | cut -f1)

	# RDB
	redis_start "$dir" no
	t0=$(now)
	rcli --pipe < "$TMP/data.resp" > "$dir/pipe.out"
	t_load=$(sub "$(now)" "$t0")
	used=$(rcli info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
	t0=$(now)
	rcli save > /dev/null
	t_save=$(sub "$(now)" "$t0")
	rdb=$(stat -c %s "$dir/dump.rdb")
	redis_stop
	restarts "$dir" no RDB "$n"
	rdb_serve=$R_SERVE rdb_log=$R_LOG rdb_cpu=$R_CPU

	# AOF
	rm -rf "$dir"
	mkdir -p "$dir"
	redis_start "$dir" yes
	t0=$(now)
	rcli --pipe < "$TMP/data.resp" > "$dir/pipe.out"
	t_aload=$(sub "$(now)" "$t0")
	redis_stop
	aof=$(du -sb "$dir/appendonlydir" | cut -f1)
	restarts "$dir" yes AOF "$n"
	aof_serve=$R_SERVE aof_log=$R_LOG aof_cpu=$R_CPU
	rm -rf "$dir" "$TMP/data.resp"

	echo
	echo "## Redis $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/'), $n keys" \
	     "(same keys and values, RESP input $resp_mb MB), median of $REPS restarts"
	echo
	echo "| Redis | load (redis-cli --pipe) s | used_memory B/key | SAVE s | file MB | restart: serving s | log s | M keys/s (log) | MB/s of file (log) | M keys/s to serve | CPU s | M keys/CPU-s |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	awk -v n="$n" -v l="$t_load" -v u="$used" -v s="$t_save" -v f="$rdb" \
	    -v sv="$rdb_serve" -v lg="$rdb_log" -v c="$rdb_cpu" 'BEGIN {
		printf "| RDB | %.2f | %.0f | %.2f | %.1f | %.3f | %.3f | %.2f | %.0f | %.2f | %.2f | %.2f |\n",
		       l, u / n, s, f / 1048576, sv, lg, n / lg / 1e6,
		       f / 1048576 / lg, n / sv / 1e6, c, n / c / 1e6 }'
	awk -v n="$n" -v l="$t_aload" -v f="$aof" -v sv="$aof_serve" \
	    -v lg="$aof_log" -v c="$aof_cpu" 'BEGIN {
		printf "| AOF (everysec) | %.2f | - | - | %.1f | %.3f | %.3f | %.2f | %.0f | %.2f | %.2f | %.2f |\n",
		       l, f / 1048576, sv, lg, n / lg / 1e6,
		       f / 1048576 / lg, n / sv / 1e6, c, n / c / 1e6 }'
}

echo "# persist-compare: $(date -u +%FT%TZ), $(nproc) vCPUs," \
     "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# kvshm $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo '?'), KEYS=\"$KEYS\" REPS=$REPS"

if [ "$KVSHM" = yes ] && [ "$WRITES" = yes ]; then
	echo
	echo "### $WB --kvshmd $KVSHMD --parts writes --reps $REPS $WBENCH_ARGS"
	"$WB" --kvshmd "$KVSHMD" --parts writes --reps "$REPS" $WBENCH_ARGS
fi
for n in $KEYS; do
	if [ "$KVSHM" = yes ]; then
		echo
		echo "### $WB --kvshmd $KVSHMD --parts snapshot,restart --keys $n --reps $REPS $WBENCH_ARGS"
		"$WB" --kvshmd "$KVSHMD" --parts snapshot,restart --keys "$n" \
			--reps "$REPS" $WBENCH_ARGS
	fi
	if [ "$REDIS" = yes ]; then
		redis_side "$n"
	fi
done
echo
echo "# load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
