#!/usr/bin/env bash
# tests/integration/test_shim_semantics.sh BUILD_DIR
#
# A program's results are the same with and without the shim.
# tests/progs/shim_semantics runs every intercepted call (mmap, mmap64,
# munmap, mremap, open/openat/open64/openat64/creat/creat64/__open_2,
# close, ftruncate, unlink/unlinkat/remove, rename/renameat/renameat2,
# shm_open/shm_unlink, memfd_create, shmget/shmat/shmdt/shmctl), with
# arguments that succeed and arguments that fail, and prints return
# values, errno (preset to a sentinel, so success must not touch it),
# checksums of data passed through shared memory, and the fd numbers it
# gets (including dup2 onto 3..9, as a shell's "exec 3>file" does).
# Its stdout, stderr and exit status are compared with a run without the
# shim, for: LD_PRELOAD, `crshim run`, every option on (backtraces,
# scratch dirs, debug log to a file), CRSHIM_HOOKS=none, CRSHIM_DISABLE=1,
# and a low RLIMIT_NOFILE.  Differences are reported separately for
# results/errno/data and for fd numbers.  Finally a shell under the shim
# must be able to `exec 3>file`, and (as root) setpriv must still be able
# to drop to another uid/gid.
set -u
. "$(dirname "$0")/test_shim_lib.sh"
shim_setup test_shim_semantics "${1:-}"
need_prog shim_semantics
S=$PROGS/shim_semantics
n=0

# run LABEL [VAR=VALUE...] -- CMD...: runs CMD with its own empty work dir
run() {
	local label=$1 rc
	shift
	local envs=()
	while [ "$1" != "--" ]; do
		envs+=("$1")
		shift
	done
	shift
	n=$((n + 1))
	mkdir "$WORK/d$n"
	env "${envs[@]}" timeout 30 "$@" "$WORK/d$n" </dev/null >"$WORK/$label.out" 2>"$WORK/$label.err"
	echo $? >"$WORK/$label.rc"
}

# Everything but fd numbers (and the fd-number section, dup2 included).
nofd() { sed -E '/^first fds: /d; /^dup\(0\) /d; /^dup2\(1, /d; s/(rc|fd)=[0-9]+/\1=N/g' "$1"; }

first_diff() {
	local d
	d=$(diff "$1" "$2")
	printf 'without: %s | with: %s' "$(printf '%s\n' "$d" | grep -m1 '^<' | cut -c3-)" \
		"$(printf '%s\n' "$d" | grep -m1 '^>' | cut -c3-)"
}

# compare BASE RUN [LABEL]
compare() {
	local base=$1 run=$2 label=${3:-$2}
	expect_eq "$label: same exit status" "$(cat "$WORK/$base.rc")" "$(cat "$WORK/$run.rc")"
	if cmp -s <(nofd "$WORK/$base.out") <(nofd "$WORK/$run.out"); then
		ok "$label: same results, errno values and data"
	else
		notok "$label: same results, errno values and data ($(first_diff <(nofd "$WORK/$base.out") <(nofd "$WORK/$run.out")))"
	fi
	if cmp -s "$WORK/$base.out" "$WORK/$run.out"; then
		ok "$label: same fd numbers (first open is still 3; dup2 onto 3..9 works)"
	else
		notok "$label: same fd numbers ($(first_diff "$WORK/$base.out" "$WORK/$run.out"))"
	fi
	if cmp -s "$WORK/$base.err" "$WORK/$run.err"; then
		ok "$label: same stderr (the shim prints nothing)"
	else
		notok "$label: same stderr ($(first_diff "$WORK/$base.err" "$WORK/$run.err"))"
	fi
}

run base -- "$S"
rc=$(cat "$WORK/base.rc")
if [ "$rc" -lt 40 ] || ! grep -qx 'done' "$WORK/base.out"; then
	notok "without the shim the program runs to the end (exit $rc: $(head -c 200 "$WORK/base.err"))"
	shim_finish
fi
ok "without the shim the program runs to the end (exit $rc)"
check "the program exercises failing calls (errno lines)" test "$(grep -c 'errno=E[A-Z]' "$WORK/base.out")" -ge 40

run preload LD_PRELOAD="$SHIMLIB" -- "$S"
compare base preload
run crshimrun -- "$CRSHIM" run -- "$S"
compare base crshimrun
mkdir -p "$WORK/scr"
run allopts LD_PRELOAD="$SHIMLIB" CRSHIM_BACKTRACE=1 CRSHIM_SCRATCH="$WORK:keep,$WORK/scr:drop" \
	CRSHIM_LOG=debug CRSHIM_LOG_FILE="$WORK/allopts.%p.log" -- "$S"
compare base allopts
check "every option on: the shim was active (its debug log says so)" \
	grep -qs 'active: hooks=' $WORK/allopts.*.log
run hooksnone LD_PRELOAD="$SHIMLIB" CRSHIM_HOOKS=none -- "$S"
compare base hooksnone
run disabled LD_PRELOAD="$SHIMLIB" CRSHIM_DISABLE=1 -- "$S"
compare base disabled

# A low open-file limit (below the fd numbers the shim moves its own fds to).
run lowbase -- bash -c 'ulimit -n 200 && exec "$@"' sh "$S"
run lowshim LD_PRELOAD="$SHIMLIB" -- bash -c 'ulimit -n 200 && exec "$@"' sh "$S"
compare lowbase lowshim "RLIMIT_NOFILE=200"

# A shell under the shim redirecting fd 3 (after the shim has settled).
out=$(LD_PRELOAD="$SHIMLIB" timeout 10 bash -c 'sleep 0.2; exec 3>/dev/null && echo redirected' 2>&1)
expect_eq "bash under the shim: 'exec 3>/dev/null' works" redirected "$out"
out=$(LD_PRELOAD="$SHIMLIB" timeout 10 bash -c 'sleep 0.2; echo hi 4>/dev/null 5</dev/null 6>&1' 2>&1)
expect_eq "bash under the shim: redirections of fds 4-6 work" hi "$out"

# A program that drops privileges (setresgid/setresuid after capset on its
# one thread, as setpriv does) keeps working with the shim's thread around.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	U=$((61000 + RANDOM % 1500))
	while getent passwd "$U" >/dev/null; do U=$((U + 1)); done
	setpriv --regid="$U" --reuid="$U" --clear-groups /bin/true 2>"$WORK/sp0.err"
	rc0=$?
	LD_PRELOAD="$SHIMLIB" timeout 10 setpriv --regid="$U" --reuid="$U" --clear-groups /bin/true 2>"$WORK/sp1.err"
	rc1=$?
	expect_eq "setpriv --regid --reuid --clear-groups under the shim: same exit status as without ($rc0)" "$rc0" "$rc1"
	rm -rf "/tmp/crshim-$U"
fi
shim_finish
