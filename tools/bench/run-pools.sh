#!/bin/bash
# run-pools.sh BUILD_DIR: issue 3's benchmark.  NWORKERS processes share one
# POOL_MIB pool (open + mmap MAP_SHARED + unlink in /dev/shm), each with
# PRIV_MIB of dirty private memory.  Compares in the same run:
#   (a) plain CRIU, whole tree: the workers are children of one parent,
#       criu dump -t PARENT --ghost-limit 1G --shell-job, criu restore -d
#   (b) plain CRIU, process by process: one criu dump -t PID --ghost-limit 1G
#       per worker (run concurrently), each saving its own copy of the pool
#       as a ghost file; restored one after the other with criu restore -d
#   (c) crshim, workers under LD_PRELOAD=libcrshim.so:
#       crshim dump -D DIR PID1..PIDn      (independent workers)
#       crshim dump -D DIR --tree PARENT   (the same tree as (a))
#       restored with crshim restore -D DIR
# and reports image bytes, dump and restore wall time (median over ROUNDS
# rounds after an uncounted warm-up, scenario order reversed every other
# round), whether the pool is
# still one shared file after restore, and the goals:
#   crshim image bytes <= private memory + one copy of each pool
#     (the image is split into private pages (CRIU pages-*.img), pool data
#      (CRIU ghost-file-*.img, crshim pools/) and metadata (the rest, a few
#      KiB per process); the goal holds when the pool data is one pool;
#      the strict difference against the Anonymous memory of the processes
#      (/proc/PID/smaps_rollup just before the dump) is printed too)
#   crshim dump time <= 1.1 x plain CRIU whole-tree dump time
#
# Needs root.  Environment: ROUNDS (5), NWORKERS (4), POOL_MIB (256),
# PRIV_MIB (64), BENCH_DIR (where images go; default a new directory under
# /tmp), CRSHIM_CRIU (else the path in /opt/crshim/criu/selected, else
# /opt/crshim/criu/criu).  Uses bash, awk, find, date, sync, tac.
# POOL_MIB must stay below 1024: plain CRIU runs with --ghost-limit 1G.
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR   (env: ROUNDS=5 NWORKERS=4 POOL_MIB=256 PRIV_MIB=64 BENCH_DIR= CRSHIM_CRIU=)" >&2; exit 2; }
[ $# -eq 1 ] || usage
BUILD=$(cd "$1" && pwd) || usage
SHIM=$BUILD/libcrshim.so
CLI=$BUILD/crshim
W=$BUILD/tools/bench/pool_bench_worker
for f in "$SHIM" "$CLI" "$W"; do
	[ -x "$f" ] || [ -e "$f" ] || { echo "run-pools.sh: $f is missing (build first)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "run-pools.sh: CRIU needs root" >&2; exit 1; }

# Restored trees are orphaned when `criu restore -d` exits: make this shell
# their subreaper (bash reaps any child), so no zombie is left to a PID 1
# that may not reap.
if [ -z "${CRSHIM_BENCH_REAPER:-}" ]; then
	export CRSHIM_BENCH_REAPER=$$
	exec "$W" subreaper bash "$0" "$@"
fi

if [ -n "${CRSHIM_CRIU:-}" ]; then
	CRIU=$CRSHIM_CRIU
elif [ -s /opt/crshim/criu/selected ]; then
	CRIU=$(head -n 1 /opt/crshim/criu/selected)
else
	CRIU=/opt/crshim/criu/criu
fi
[ -x "$CRIU" ] || { echo "run-pools.sh: no CRIU at $CRIU" >&2; exit 1; }
export CRSHIM_CRIU=$CRIU # crshim uses the same CRIU

ROUNDS=${ROUNDS:-5}
NW=${NWORKERS:-4}
POOL_MIB=${POOL_MIB:-256}
PRIV_MIB=${PRIV_MIB:-64}
POOL_BYTES=$((POOL_MIB * 1048576))
WORK=${BENCH_DIR:-$(mktemp -d /tmp/crshim-bench-pools.XXXXXX)}
mkdir -p "$WORK"
SCEN="plain-tree plain-procs crshim-procs crshim-tree"
LIVE="" # pids to kill on exit
RUNDIR=${CRSHIM_RUNDIR:-/tmp/crshim-$(id -u)} # the shim's control sockets

cleanup() {
	[ -n "$LIVE" ] && kill -9 $LIVE 2>/dev/null
	rm -f /dev/shm/crshim-bench-$$-*
	if [ -z "${BENCH_DIR:-}" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", (b-a)/1e9}'; }
fail() {
	echo "run-pools.sh: $*" >&2
	exit 1
}

# Wait until every pid given is gone (killed and reaped).
wait_gone() {
	local deadline=$(($(date +%s) + 30)) p
	for p in "$@"; do
		while [ -e "/proc/$p" ]; do
			[ "$(date +%s)" -le "$deadline" ] || fail "pid $p is still there ($(awk '/^State/{print $2,$3}' /proc/$p/status 2>/dev/null), parent $(awk '/^PPid/{print $2}' /proc/$p/status 2>/dev/null))"
			wait "$p" 2>/dev/null || sleep 0.02
		done
	done
}

wait_ready() { # file count
	local t=0
	until [ "$(grep -c '^ready' "$1" 2>/dev/null || true)" -ge "$2" ]; do
		sleep 0.05
		t=$((t + 1))
		[ $t -lt 1200 ] || { cat "$1" >&2; fail "the workers did not get ready"; }
	done
}

children() { cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . || true; }

anon_kb() { # pids -> sum of Anonymous kB
	local p s=0 a
	for p in "$@"; do
		a=$(awk '/^Anonymous:/{print $2}' /proc/"$p"/smaps_rollup)
		s=$((s + a))
	done
	echo $s
}

# dev:inode of each process's pool mapping -> number of distinct pool files
pool_files() {
	local p
	for p in "$@"; do
		awk '$2 ~ /s$/ && $6 ~ /^\/dev\/shm\// {print $4 ":" $5; exit}' /proc/"$p"/maps
	done | sort -u | wc -l
}

alive() { local p n=0; for p in "$@"; do [ -e /proc/$p ] && n=$((n + 1)); done; echo $n; }

# Start the workload.  $1: tree|procs, $2: shim|plain.  Sets ROOT (tree),
# PIDS (the workers), ALL (everything dumped).
start_workload() {
	local kind=$1 shim=$2 name=crshim-bench-$$-$3 out=$WORK/$3.out pre=()
	: >"$out"
	[ "$shim" = shim ] && pre=(env "LD_PRELOAD=$SHIM")
	[ "$shim" = plain ] && pre=(env -u LD_PRELOAD)
	ROOT= PIDS=
	if [ "$kind" = tree ]; then
		"${pre[@]}" "$W" tree "$name" "$POOL_MIB" "$PRIV_MIB" "$NW" </dev/null >>"$out" 2>&1 &
		ROOT=$!
		disown $ROOT # no "Killed" notices; this shell still reaps it
		LIVE="$ROOT"
	else
		for ((i = 0; i < NW; i++)); do
			role=attach
			[ $i = 0 ] && role=create
			"${pre[@]}" "$W" $role "$name" "$POOL_MIB" "$PRIV_MIB" "$NW" </dev/null >>"$out" 2>&1 &
			PIDS="$PIDS $!"
			disown $!
		done
		LIVE="$PIDS"
	fi
	wait_ready "$out" "$NW"
	if [ "$kind" = tree ]; then
		PIDS=$(children "$ROOT" | tr '\n' ' ')
		ALL="$ROOT $PIDS"
	else
		ALL="$PIDS"
	fi
	LIVE="$ALL"
}

finish_workload() { # kill what runs (restored processes), wait until gone
	kill -9 $ALL 2>/dev/null || true
	wait_gone $ALL
	# SIGKILLed shim processes leave their control socket: remove ours
	local p
	for p in $ALL; do
		[ -S "$RUNDIR/$p.sock" ] && rm -f "$RUNDIR/$p.sock"
	done
	LIVE=
}

# One scenario: sets R_IMG R_PAGES R_POOLD R_LOGS R_PRIV R_DUMP R_REST R_SHARED R_ALIVE
run_scenario() {
	local s=$1 round=$2 d=$WORK/$1 t0 t1 p rc=0
	rm -rf "$d"
	mkdir -p "$d"
	case $s in
	plain-tree) start_workload tree plain "$s-$round" ;;
	plain-procs) start_workload procs plain "$s-$round" ;;
	crshim-procs) start_workload procs shim "$s-$round" ;;
	crshim-tree) start_workload tree shim "$s-$round" ;;
	esac
	R_PRIV=$(($(anon_kb $ALL) * 1024))
	sync
	t0=$(now)
	case $s in
	plain-tree)
		"$CRIU" dump -t "$ROOT" -D "$d" --ghost-limit 1G --shell-job -o dump.log || rc=$?
		;;
	plain-procs)
		local cp=""
		for p in $PIDS; do
			mkdir -p "$d/$p"
			"$CRIU" dump -t "$p" -D "$d/$p" --ghost-limit 1G -o dump.log &
			cp="$cp $!"
		done
		for p in $cp; do wait "$p" || rc=$?; done
		;;
	crshim-procs) "$CLI" dump -D "$d" $PIDS >"$WORK/$s.dump.out" 2>&1 || rc=$? ;;
	crshim-tree) "$CLI" dump -D "$d" --tree "$ROOT" >"$WORK/$s.dump.out" 2>&1 || rc=$? ;;
	esac
	t1=$(now)
	if [ $rc != 0 ]; then
		cat "$WORK/$s.dump.out" 2>/dev/null >&2 || true
		find "$d" -name dump.log -exec tail -n 5 {} + >&2
		fail "$s: dump failed (exit $rc)"
	fi
	R_DUMP=$(secs "$t0" "$t1")
	wait_gone $ALL
	# image bytes: every file of the checkpoint but the logs, split into private
	# pages (CRIU pages-*.img), pool data (CRIU ghost-file-*.img, crshim
	# pools/*) and metadata (the rest)
	find "$d" -type f -printf "%s %P\n" >"$WORK/files"
	read -r R_IMG R_PAGES R_POOLD R_LOGS < <(awk '
		$2 ~ /\.(log|out)$/ { logs += $1; next }
		{ img += $1 }
		$2 ~ /(^|\/)pages-[0-9]+\.img$/ { pages += $1 }
		$2 ~ /(^|\/)ghost-file-[0-9]+\.img$/ || $2 ~ /^pools\// { pool += $1 }
		END { printf "%.0f %.0f %.0f %.0f\n", img, pages, pool, logs }' "$WORK/files")
	sync
	t0=$(now)
	case $s in
	plain-tree) "$CRIU" restore -D "$d" -d --shell-job -o restore.log || rc=$? ;;
	plain-procs)
		for p in $PIDS; do
			"$CRIU" restore -D "$d/$p" -d -o restore.log || rc=$?
		done
		;;
	crshim-*) "$CLI" restore -D "$d" >"$WORK/$s.restore.out" 2>&1 || rc=$? ;;
	esac
	t1=$(now)
	LIVE="$ALL"
	if [ $rc != 0 ]; then
		cat "$WORK/$s.restore.out" 2>/dev/null >&2 || true
		find "$d" -name restore.log -exec tail -n 5 {} + >&2
		fail "$s: restore failed (exit $rc)"
	fi
	R_REST=$(secs "$t0" "$t1")
	sleep 0.3 # the restored workers run on: still alive, still sharing?
	R_ALIVE=$(alive $PIDS)
	R_SHARED=$(pool_files $PIDS)
	finish_workload
	rm -rf "$d"
}

median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) printf "%.3f", v[(NR+1)/2]; else printf "%.3f", (v[NR/2]+v[NR/2+1])/2}'; }

echo "# crshim run-pools.sh  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(uname -r)  $(nproc) CPUs  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $NW workers sharing one $POOL_MIB MiB pool (/dev/shm file: open, mmap MAP_SHARED, unlink), $PRIV_MIB MiB dirty private memory each; $ROUNDS rounds"
echo "# CRIU: $CRIU ($("$CRIU" --version | awk '/Version/{print $2}'))   images in $WORK"
# Warm-up, not counted: the first CRIU runs of a session are often several
# times slower (seen here: 1.2-1.4 s instead of 0.25 s for the first dump).
for s in plain-tree crshim-tree; do
	run_scenario "$s" 0
	printf '# warm-up %-13s dump %6.3f s  restore %6.3f s  (not counted)\n' "$s" "$R_DUMP" "$R_REST"
done
for ((round = 1; round <= ROUNDS; round++)); do
	order=$SCEN
	((round % 2)) || order=$(echo $SCEN | tr ' ' '\n' | tac | tr '\n' ' ')
	for s in $order; do
		run_scenario "$s" "$round"
		echo "$R_DUMP" >>"$WORK/$s.dump"
		echo "$R_REST" >>"$WORK/$s.rest"
		echo "$R_IMG $R_PAGES $R_POOLD $R_PRIV $R_ALIVE $R_SHARED" >"$WORK/$s.last"
		printf '# round %d %-13s dump %6.3f s  restore %6.3f s  image %7.1f MiB  private pages %6.1f MiB (Anonymous before: %6.1f MiB)  restored alive %d/%d  pool files %d  dump logs %.1f MiB\n' \
			"$round" "$s" "$R_DUMP" "$R_REST" "$(awk -v b=$R_IMG 'BEGIN{print b/1048576}')" \
			"$(awk -v b=$R_PAGES 'BEGIN{print b/1048576}')" "$(awk -v b=$R_PRIV 'BEGIN{print b/1048576}')" "$R_ALIVE" "$NW" "$R_SHARED" "$(awk -v b=$R_LOGS 'BEGIN{print b/1048576}')"
		[ -s "$WORK/$s.dump.out" ] && sed -n "s/^saved /#     crshim: saved /p" "$WORK/$s.dump.out"
		rm -f "$WORK/$s.dump.out"
	done
done

base_dump=$(median <"$WORK/plain-tree.dump")
echo
echo "Commands (PIDs and DIR vary):"
echo '```'
echo "# (a) and (c --tree): one parent with $NW workers; (b) and (c): $NW independent workers"
echo "$W tree NAME $POOL_MIB $PRIV_MIB $NW"
echo "$W create|attach NAME $POOL_MIB $PRIV_MIB $NW"
echo "# (a)"
echo "$CRIU dump -t PARENT -D DIR --ghost-limit 1G --shell-job -o dump.log"
echo "$CRIU restore -D DIR -d --shell-job -o restore.log"
echo "# (b): $NW dumps run concurrently, $NW restores one after the other"
echo "$CRIU dump -t PID -D DIR/PID --ghost-limit 1G -o dump.log"
echo "$CRIU restore -D DIR/PID -d -o restore.log"
echo "# (c): the workers run under the shim"
echo "LD_PRELOAD=$SHIM $W ..."
echo "$CLI dump -D DIR PID1 .. PID$NW"
echo "$CLI dump -D DIR --tree PARENT"
echo "$CLI restore -D DIR"
echo '```'
echo
echo "| scenario | CRIU runs | image (MiB) | private pages (MiB) | pool data (MiB) | pool copies | metadata (KiB) | dump (s, median) | dump vs (a) | restore (s, median) | pool after restore |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for s in $SCEN; do
	read -r img pages poold priv alive shared <"$WORK/$s.last"
	dm=$(median <"$WORK/$s.dump")
	rm_=$(median <"$WORK/$s.rest")
	case $s in
	plain-tree) label="(a) plain CRIU, whole tree"; runs=1 ;;
	plain-procs) label="(b) plain CRIU, process by process"; runs=$NW ;;
	crshim-procs) label="(c) crshim dump PID1..PID$NW"; runs=$NW ;;
	crshim-tree) label="(c) crshim dump --tree PARENT"; runs=1 ;;
	esac
	if [ "$alive" != "$NW" ]; then
		after="$alive of $NW workers alive"
	elif [ "$shared" = 1 ]; then
		after="shared (1 file)"
	else
		after="NOT shared ($shared files)"
	fi
	awk -v l="$label" -v r="$runs" -v img="$img" -v pg="$pages" -v pd="$poold" -v pool="$POOL_BYTES" -v dm="$dm" -v b="$base_dump" -v rs="$rm_" -v a="$after" 'BEGIN {
		printf "| %s | %d | %.1f | %.1f | %.1f | %.2f | %.0f | %.2f | %.2fx | %.2f | %s |\n", l, r, img/1048576, pg/1048576, pd/1048576, pd/pool, (img-pg-pd)/1024, dm, dm/b, rs, a }'
done
echo
echo "Image: all files of the checkpoint except logs (*.log, *.out) = private pages (CRIU pages-*.img) + pool data (CRIU ghost-file-*.img, crshim pools/) + metadata (the rest)."
echo "pool copies = pool data / pool size ($POOL_MIB MiB).  Pool after restore: distinct files (dev:inode) behind the workers' pool mappings."
echo
status=0
for s in crshim-procs crshim-tree; do
	read -r img pages poold priv alive shared <"$WORK/$s.last"
	plain=plain-procs nproc=$NW
	[ $s = crshim-tree ] && plain=plain-tree nproc=$((NW + 1))
	read -r _ ppages _ _ _ _ <"$WORK/$plain.last"
	dm=$(median <"$WORK/$s.dump")
	# Private memory: the private pages CRIU saved for these processes.
	# Metadata (CRIU's small images, crshim's manifest) is not memory.
	if [ "$poold" -le "$POOL_BYTES" ] && [ "$alive" = "$NW" ] && [ "$shared" = 1 ]; then v=met; else v="NOT met"; status=1; fi
	awk -v s="$s" -v img="$img" -v pg="$pages" -v pd="$poold" -v pool="$POOL_BYTES" -v priv="$priv" -v pp="$ppages" -v n="$nproc" -v v="$v" 'BEGIN {
		printf "%s: image %.1f MiB = private pages %.1f MiB + pool data %.1f MiB (%.2f copies) + metadata %.0f KiB\n", s, img/1048576, pg/1048576, pd/1048576, pd/pool, (img-pg-pd)/1024
		printf "  goal image <= private memory + one copy of each pool (metadata aside): %s\n", v
		printf "  (strictly, counting metadata, against the Anonymous memory measured before the dump (%.0f B) + one pool: %+.0f B)\n", priv, img-priv-pool
		printf "  private pages vs plain CRIU of the same workload: %+.0f KiB per process (the shim in each process)\n", (pg-pp)/1024/n }'
	if awk -v a="$dm" -v b="$base_dump" 'BEGIN{exit !(a <= 1.1 * b)}'; then v=met; else v="NOT met"; status=1; fi
	awk -v s="$s" -v a="$dm" -v b="$base_dump" -v v="$v" 'BEGIN {
		printf "  goal dump time <= 1.1 x plain whole-tree dump: %.3f s vs 1.1 x %.3f s = %.3f s (ratio %.2f): %s\n", a, b, 1.1*b, a/b, v }'
done
exit $status
