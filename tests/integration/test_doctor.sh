#!/usr/bin/env bash
# tests/integration/test_doctor.sh BUILD_DIR
#
# `crshim doctor` against reality: its verdicts on tests/progs/doctor_* (a
# dynamic program, a static one, one making raw system calls) and on bad
# files, cross-checked with the tools that know the truth: the dynamic loader
# itself (does LD_PRELOAD reach the program? which libraries does ldd load?),
# nm (which functions are imported) and objdump (are there syscall
# instructions).  One line per assertion; exit 0 only if all pass, 77 on skip.
set -u

BUILD=${1:?usage: test_doctor.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
CRSHIM=$BUILD/crshim
PROGS=$BUILD/tests/progs

PASS=0
FAIL=0
SKIPPED=0
pass() { PASS=$((PASS + 1)); printf 'ok   - %s\n' "$*"; }
fail() { FAIL=$((FAIL + 1)); printf 'FAIL - %s\n' "$*"; }
skip() { SKIPPED=$((SKIPPED + 1)); printf 'skip - %s\n' "$*"; }

if [ ! -x "$CRSHIM" ]; then
	echo "skip: $CRSHIM is not built"
	exit 77
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/test_doctor.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

INTERCEPTED=" mmap mmap64 munmap mremap open open64 openat openat64 creat close ftruncate unlink"
INTERCEPTED+=" unlinkat remove rename renameat renameat2 shm_open shm_unlink memfd_create shmget"
INTERCEPTED+=" shmat shmdt shmctl "

# doctor LABEL WANT_RC ARGS...: run `crshim doctor ARGS`, keep stdout in OUT, check the status.
doctor() {
	local label=$1 want=$2 rc
	shift 2
	OUT=$("$CRSHIM" doctor "$@" 2>"$WORK/err")
	rc=$?
	if [ "$rc" = "$want" ]; then
		pass "$label: exit $rc"
	else
		fail "$label: exit $rc, expected $want: $(printf '%s' "$OUT" | tail -n 3 | tr '\n' '|') $(cat "$WORK/err")"
	fi
}

# has LABEL TEXT: OUT contains TEXT.
has() {
	if printf '%s\n' "$OUT" | grep -qF -- "$2"; then
		pass "$1: says '$2'"
	else
		fail "$1: no '$2' in: $(printf '%s' "$OUT" | tr '\n' '|' | head -c 800)"
	fi
}

# preload_reaches PROG: 0 if the loader handles LD_PRELOAD for PROG.  A missing preload
# object makes ld.so complain on stderr; a static program never hears of it.
preload_reaches() {
	LD_PRELOAD=$WORK/no-such-preload.so "$1" </dev/null 2>&1 >/dev/null | grep -q "no-such-preload.so"
}

# imports_of PROG: the intercepted functions nm says PROG imports, sorted, one line.
imports_of() {
	local sym out=
	for sym in $(nm -D --undefined-only "$1" 2>/dev/null | awk '{print $NF}' | sed 's/@.*//' | sort -u); do
		case $INTERCEPTED in *" $sym "*) out="$out $sym" ;; esac
	done
	echo "${out# }"
}

# doctor_imports NAME: the imports doctor listed for the object NAME (human output).
doctor_imports() {
	printf '%s\n' "$OUT" | awk -v n="$1" '$1 == n { $1 = ""; print; exit }' | sed 's/^ *//'
}

# ---- a dynamic program that calls the intercepted functions ----------------------------------
P=$PROGS/doctor_dynamic
if [ -x "$P" ]; then
	doctor dynamic 0 "$P"
	has dynamic "dynamically linked"
	has dynamic "verdict: crshim can work"
	if command -v nm >/dev/null; then
		want=$(imports_of "$P")
		got=$(doctor_imports doctor_dynamic)
		if [ -n "$want" ] && [ "$got" = "$want" ]; then
			pass "dynamic: imports match nm ($got)"
		else
			fail "dynamic: doctor lists '$got', nm says '$want'"
		fi
	else
		skip "dynamic: nm not installed"
	fi
	if preload_reaches "$P"; then
		pass "dynamic: the loader does process LD_PRELOAD for it"
	else
		fail "dynamic: LD_PRELOAD did not reach a program doctor calls dynamic"
	fi
	OUT=$("$CRSHIM" doctor --json "$P")
	if printf '%s' "$OUT" | grep -q '"linkage": "dynamic"' &&
		printf '%s' "$OUT" | grep -q '"verdict": "ok"'; then
		pass "dynamic: --json gives linkage dynamic, verdict ok"
	else
		fail "dynamic: --json: $(printf '%s' "$OUT" | head -c 400)"
	fi
	# found through PATH like execvp
	OUT=$(PATH=$PROGS:$PATH "$CRSHIM" doctor doctor_dynamic 2>&1)
	has "dynamic via PATH" "crshim doctor: $(readlink -f "$P")"
else
	fail "dynamic: $P is not built"
fi

# ---- a static program -----------------------------------------------------------------------
P=$PROGS/doctor_static
if [ -x "$P" ]; then
	doctor static 2 "$P"
	has static "LD_PRELOAD cannot work; crshim cannot record anything for it"
	if preload_reaches "$P"; then
		fail "static: the loader processed LD_PRELOAD for a program doctor calls static"
	else
		pass "static: LD_PRELOAD indeed never reaches it"
	fi
	if command -v file >/dev/null; then
		if file -L "$P" | grep -qE "statically linked|static-pie linked"; then
			pass "static: file(1) agrees: statically linked"
		else
			fail "static: file(1) says: $(file -L "$P")"
		fi
	fi
	OUT=$("$CRSHIM" doctor --json "$P")
	has "static --json" '"verdict": "cannot-work"'
else
	skip "static: $P is not built (no libc.a?)"
fi

# ---- raw system calls -----------------------------------------------------------------------
P=$PROGS/doctor_rawsys
if [ -x "$P" ]; then
	doctor rawsys 1 "$P"
	has rawsys "raw syscall instruction"
	has rawsys "imports syscall()"
	if command -v objdump >/dev/null; then
		n=$(objdump -d "$P" | grep -cP '\tsyscall\s*$')
		got=$(printf '%s\n' "$OUT" | grep -o 'doctor_rawsys: [0-9]* raw syscall' | grep -o '[0-9]*')
		if [ "$n" -ge 1 ] && [ -n "$got" ] && [ "$got" -ge "$n" ]; then
			pass "rawsys: doctor counts $got, objdump disassembles $n syscall instruction(s)"
		else
			fail "rawsys: doctor counts '${got}', objdump finds $n"
		fi
	else
		skip "rawsys: objdump not installed"
	fi
	if command -v nm >/dev/null && nm -D --undefined-only "$P" | grep -qw syscall; then
		pass "rawsys: nm agrees that syscall() is imported"
	else
		fail "rawsys: nm does not show syscall() imported"
	fi
	OUT=$("$CRSHIM" doctor --json "$P")
	has "rawsys --json" '"imports_syscall": true'
else
	fail "rawsys: $P is not built"
fi

# ---- library resolution, against the real loader -----------------------------------------------
# Every library ldd loads for the crshim binary must be an object doctor found, same file.
if command -v ldd >/dev/null; then
	want=$(ldd "$CRSHIM" | awk '/=> \// {print $3} /^\t\/.* \(0x/ {print $1}' |
		xargs -r readlink -f | sort -u)
	got=$("$CRSHIM" doctor --json "$CRSHIM" | grep '"path"' | sed 's/.*"path": "\(.*\)",*/\1/' |
		grep -vxF "$CRSHIM" | xargs -r readlink -f | sort -u | grep -vxF "$(readlink -f "$CRSHIM")")
	if [ -n "$want" ] && [ "$want" = "$got" ]; then
		pass "libraries of crshim: the same $(echo "$want" | wc -l) files as ldd"
	else
		fail "libraries of crshim: ldd: $(printf '%s ' "$want") / doctor: $(printf '%s ' "$got")"
	fi
else
	skip "library resolution: ldd not installed"
fi

# ---- bad files --------------------------------------------------------------------------------
doctor missing 3 "$WORK/no-such-program"
if [ "$(wc -l <"$WORK/err")" = 1 ] && grep -q "no such file" "$WORK/err"; then
	pass "missing: one line ($(cat "$WORK/err"))"
else
	fail "missing: stderr: $(cat "$WORK/err")"
fi
echo "just text" >"$WORK/text"
doctor not-elf 3 "$WORK/text"
if grep -q "not an ELF file" "$WORK/err"; then
	pass "not-elf: one line ($(cat "$WORK/err"))"
else
	fail "not-elf: stderr: $(cat "$WORK/err")"
fi
printf '#!/bin/sh\necho hi\n' >"$WORK/script"
chmod +x "$WORK/script"
doctor script 3 "$WORK/script"
if grep -q "is a script" "$WORK/err"; then
	pass "script: names the interpreter ($(cat "$WORK/err"))"
else
	fail "script: stderr: $(cat "$WORK/err")"
fi
OUT=$("$CRSHIM" doctor --json "$WORK/text")
has "not-elf --json" '"verdict": "bad-file"'

printf '# %d passed, %d failed, %d skipped\n' "$PASS" "$FAIL" "$SKIPPED"
[ "$FAIL" = 0 ]
