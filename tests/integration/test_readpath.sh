#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_readpath.sh - what the read path's machine code may contain, read
# from libkvshm's disassembly (objdump): the read functions hold no atomic
# read-modify-write (lock prefix, xchg) and no system call, and each full
# fence in them is on the fenced fallback path only: the target of, or
# the instruction right after, a conditional jump (membarrier mode jumps
# over it). "Zero atomic RMWs and zero fences per GET in membarrier mode"
# is checked here rather than assumed. x86-64 only; skipped where the
# shared library or objdump is missing.

set -u

. "$(dirname "$0")/../lib/tap.sh" || { echo "Bail out! no tests/lib/tap.sh"; exit 1; }

# get_full and get_again: kvshm_get()'s full path and its retries (static,
# but named in the unstripped library).
FUNCS="kvshm_get get_full get_again kvshm_get_meta kvshm_exists kvshm_view kvshm_view_meta kvshm_read_lock kvshm_read_unlock kvshm_mget"
LIB=$KVSHM_TEST_BUILDDIR/libclient/.libs/libkvshm.so

tap_setup trp
plan_tests 4

if [ "$(uname -m)" != x86_64 ] || ! command -v objdump >/dev/null ||
   [ ! -e "$LIB" ]; then
	for i in 1 2 3 4; do
		skip "needs x86-64, objdump and the shared libkvshm"
	done
	done_testing
	exit 0
fi

# disasm FUNC: FUNC's instructions, one per line ("addr: insn operands").
disasm() {
	objdump -d --no-show-raw-insn "$LIB" |
		awk -v f="<$1>:" '$2 == f { on = 1; next } on && /^$/ { exit }
			on { sub(/^ +/, ""); print }'
}

missing=
for f in $FUNCS; do
	disasm "$f" >"$dir/$f.s"
	[ -s "$dir/$f.s" ] || missing="$missing $f"
done
[ -z "$missing" ]
ok $? "the read functions are found in the library${missing:+ (missing:$missing)}"

# xchg between registers is a no-op used as padding; with memory it locks.
rmw=$(cat "$dir"/*.s | grep -E $'\t(lock |cmpxchg|xadd|xchg .*\\()' || true)
[ -z "$rmw" ]
ok $? "no atomic read-modify-write in $FUNCS"
[ -n "$rmw" ] && echo "$rmw" | sed 's/^/# /'

sys=$(cat "$dir"/*.s | grep -E $'\t(syscall|sysenter|int )' || true)
[ -z "$sys" ]
ok $? "no system call instruction in the read functions"

# Every fence must follow a conditional jump or be one's target.
bad=
for f in $FUNCS; do
	b=$(awk '
		{ addr = $1; sub(/:$/, "", addr); op = $2 }
		op ~ /^j/ && op != "jmp" { tgt[$3] = 1; after = 1; next }
		op ~ /fence$/ { if (!after) cand[addr] = $0 }
		{ after = 0 }
		END { for (a in cand) if (!(a in tgt)) print cand[a] }
	' "$dir/$f.s")
	[ -n "$b" ] && bad="$bad $f: $b;"
done
# ... and the fenced fallback is there, so the check above saw a fence;
# kvshm_get()'s short path, which serves membarrier mode only, has none.
nf=$(grep -cE $'\tmfence' "$dir/get_full.s")
ns=$(grep -cE $'\t[a-z]*fence' "$dir/kvshm_get.s")
[ -z "$bad" ] && [ "$nf" -ge 1 ] && [ "$ns" -eq 0 ]
ok $? "each fence in them is on a conditional (fenced fallback) path ($nf in get_full, $ns in kvshm_get)"
[ -n "$bad" ] && echo "# $bad"

done_testing
