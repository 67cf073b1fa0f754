#!/usr/bin/env bash
# Conformance runner: the opencontainers/runtime-tools validation suite
# (validation/*, 58 TAP programs) against rung and reference runtimes.
#
# usage: tests/conformance/run.sh [--runtime NAME=PATH]... [--report-only]
#                                 [--only PROG[,PROG...]] [--timeout SECONDS]
#                                 [--results DIR]
#
#   --runtime NAME=PATH  a runtime to test (repeatable; default: rung=./rung
#                        and crun=/usr/bin/crun). A relative PATH is taken from
#                        the current directory, a bare name from $PATH. The
#                        runtime named "rung" is the one judged (else the first
#                        one not named crun); the one named "crun" is the
#                        reference (else the next one given).
#   --report-only        always exit 0.
#   --only LIST          run only these programs (comma-separated names).
#   --timeout SECONDS    per-program timeout (default 60).
#   --results DIR        results directory (default tests/.cache/conformance/results).
#   --build-only         build the suite (into the cache) and exit.
#   --suite DIR          use the suite already built in DIR (a copy of the
#                        cache's bin directory) and build nothing: no Go
#                        needed (the VM test runs it so in its guest).
#
# The suite is built once into tests/.cache/conformance (override with
# CONFORMANCE_CACHE) from the runtime-tools module at $RT_VERSION in a
# throw-away module; it needs the Go module proxy the first time only.
# Programs run one at a time (they use fixed cgroup paths), in the suite's
# bin directory (they need ./runtimetest and ./rootfs-amd64.tar.gz), with
# RUNTIME set and TMPDIR a fresh 0755 directory under /tmp for the bundles.
# After each program the runner deletes the runtime's containers whose bundle
# is in that TMPDIR and unmounts anything mounted under it.
#
# Logs: results/<runtime>/<program>.tap (stdout), .stderr, .rc, and
# results/<runtime>/assertions.tsv (program, pass|fail, kind, text, detail).
#
# Counting: every "ok N" line passes and every "not ok N" line fails. A
# program that prints no assertion (hook tests, *_fail tests, programs that
# report only through their exit status) counts as one assertion: passed if
# it exits 0 and prints no YAML error block, failed otherwise. A timeout
# counts as one failure (on top of any assertions printed before it).
#
# Output: per-program passed/failed for each runtime side by side, the
# totals, the rung failures that crun passes, the other rung failures, the
# known ones (tests/conformance/known-failures.txt: program<TAB>assertion-
# substring<TAB>reason; still counted as failed), and as the last line
# "N passed, N failed" for rung.
#
# Exit status: 0 if rung fails no assertion that crun passes (known failures
# excepted) and passes at least as many assertions as crun (in the programs
# with no known failure), else 1;
# always 0 with --report-only. 2 on usage or setup errors.
set -euo pipefail
# Read as one compound command, so that editing this file while it runs
# cannot change what the running instance does.
{

RT_MODULE=github.com/opencontainers/runtime-tools
# Exactly this commit: newer ones move to runtime-spec 1.3.0 and break their
# own pids tests.
RT_VERSION=v0.9.1-0.20250523060157-0ea5ed0382a2

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CACHE=${CONFORMANCE_CACHE:-$REPO_ROOT/tests/.cache/conformance}
RESULTS=$CACHE/results
KNOWN_FILE=$SCRIPT_DIR/known-failures.txt
TIMEOUT=60
REPORT_ONLY=0
BUILD_ONLY=0
PREBUILT=
ONLY=
NAMES=()
PATHS=()

die() { echo "run.sh: $*" >&2; exit 2; }
log() { echo "== $*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	--runtime)
		[ $# -ge 2 ] || die "--runtime needs NAME=PATH"
		set -- "--runtime=$2" "${@:3}"
		continue
		;;
	--runtime=*)
		spec=${1#--runtime=}
		name=${spec%%=*}
		path=${spec#*=}
		[[ $spec == *=* && -n $name && -n $path ]] || die "bad --runtime '$spec' (want NAME=PATH)"
		[[ $name =~ ^[A-Za-z0-9._-]+$ ]] || die "bad runtime name '$name'"
		for n in ${NAMES[@]+"${NAMES[@]}"}; do [ "$n" != "$name" ] || die "runtime '$name' given twice"; done
		NAMES+=("$name")
		PATHS+=("$path")
		;;
	--report-only) REPORT_ONLY=1 ;;
	--build-only) BUILD_ONLY=1 ;;
	--suite) [ $# -ge 2 ] || die "--suite needs a directory"; PREBUILT=$2; shift ;;
	--suite=*) PREBUILT=${1#--suite=} ;;
	--only) [ $# -ge 2 ] || die "--only needs a list"; ONLY=$2; shift ;;
	--only=*) ONLY=${1#--only=} ;;
	--timeout) [ $# -ge 2 ] || die "--timeout needs seconds"; TIMEOUT=$2; shift ;;
	--timeout=*) TIMEOUT=${1#--timeout=} ;;
	--results) [ $# -ge 2 ] || die "--results needs a directory"; RESULTS=$2; shift ;;
	--results=*) RESULTS=${1#--results=} ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done
[[ $TIMEOUT =~ ^[0-9]+$ && $TIMEOUT -gt 0 ]] || die "bad --timeout '$TIMEOUT'"
if [ ${#NAMES[@]} -eq 0 ]; then
	NAMES=(rung crun)
	PATHS=(./rung /usr/bin/crun)
fi
[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -z "$PREBUILT" ] || [ "$BUILD_ONLY" -eq 0 ] || die "--suite and --build-only exclude each other"
for cmd in tar timeout awk mountpoint umount; do
	command -v "$cmd" >/dev/null || die "missing command: $cmd"
done
[[ $RESULTS == /* ]] || RESULTS=$PWD/$RESULTS

# Absolute runtime paths: the programs run in the suite's directory.
for i in "${!PATHS[@]}"; do
	[ "$BUILD_ONLY" -eq 0 ] || break
	p=${PATHS[$i]}
	if [[ $p != */* ]]; then
		p=$(command -v "$p") || die "runtime ${NAMES[$i]}: '$p' not found in PATH"
	fi
	[[ $p == /* ]] || p=$PWD/$p
	if ! [ -f "$p" ] || ! [ -x "$p" ]; then
		[ "${NAMES[$i]}" != rung ] || echo "run.sh: build rung first: (cd $REPO_ROOT && make build)" >&2
		die "runtime ${NAMES[$i]}: $p is not an executable file"
	fi
	PATHS[$i]=$p
done

# The runtime judged and the reference it is compared with.
SUBJECT=
REFERENCE=
for n in "${NAMES[@]}"; do [ "$n" != rung ] || SUBJECT=rung; done
for n in "${NAMES[@]}"; do [ "$n" != crun ] || REFERENCE=crun; done
if [ -z "$SUBJECT" ]; then
	for n in "${NAMES[@]}"; do
		if [ "$n" != "$REFERENCE" ]; then SUBJECT=$n; break; fi
	done
	[ -n "$SUBJECT" ] || { SUBJECT=$REFERENCE; REFERENCE=; }
fi
if [ -z "$REFERENCE" ]; then
	for n in "${NAMES[@]}"; do
		if [ "$n" != "$SUBJECT" ]; then REFERENCE=$n; break; fi
	done
fi

# ---------------------------------------------------------------- build ----

SUITE_SRC=$CACHE/module
SUITE_BIN=$CACHE/bin

build_suite() {
	local stamp want tmpbin=$CACHE/bin.new
	want="$RT_MODULE@$RT_VERSION $(go env GOVERSION)"
	stamp=$SUITE_BIN/.built
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
		[ -x "$SUITE_BIN/runtimetest" ] && [ -f "$SUITE_BIN/rootfs-amd64.tar.gz" ]; then
		return 0
	fi
	log "building the runtime-tools validation suite ($RT_VERSION) in $CACHE"
	mkdir -p "$SUITE_SRC"
	rm -rf "$tmpbin"
	mkdir -p "$tmpbin"
	(
		cd "$SUITE_SRC"
		export GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=mod"
		printf 'module conformance-suite\n\ngo 1.22\n' >go.mod
		rm -f go.sum
		go get "$RT_MODULE/cmd/runtimetest@$RT_VERSION" "$RT_MODULE/validation/...@$RT_VERSION"
		go build -o "$tmpbin/" "$RT_MODULE/validation/..."
		CGO_ENABLED=0 go build -tags 'netgo osusergo' -o "$tmpbin/runtimetest" "$RT_MODULE/cmd/runtimetest"
		dir=$(go list -m -f '{{.Dir}}' "$RT_MODULE")
		install -m 0644 "$dir/rootfs-amd64.tar.gz" "$tmpbin/rootfs-amd64.tar.gz"
	)
	echo "$want" >"$tmpbin/.built"
	rm -rf "$SUITE_BIN"
	mv "$tmpbin" "$SUITE_BIN"
}

if [ -n "$PREBUILT" ]; then
	SUITE_BIN=$(cd "$PREBUILT" && pwd) || die "--suite $PREBUILT: no such directory"
	[ -x "$SUITE_BIN/runtimetest" ] && [ -f "$SUITE_BIN/rootfs-amd64.tar.gz" ] ||
		die "--suite $PREBUILT: no runtimetest or rootfs-amd64.tar.gz (a copy of $CACHE/bin is expected)"
else
	command -v go >/dev/null || die "missing command: go"
	build_suite
fi
if [ "$BUILD_ONLY" -eq 1 ]; then
	echo "$SUITE_BIN"
	exit 0
fi

PROGRAMS=()
for f in "$SUITE_BIN"/*; do
	b=${f##*/}
	case $b in runtimetest | rootfs-*.tar.gz) continue ;; esac
	[ -x "$f" ] && [ -f "$f" ] || continue
	if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$b,"* ]]; then continue; fi
	PROGRAMS+=("$b")
done
if [ -n "$ONLY" ]; then
	IFS=, read -ra want <<<"$ONLY"
	for w in "${want[@]}"; do
		[ -x "$SUITE_BIN/$w" ] || die "no validation program '$w'"
	done
fi
[ ${#PROGRAMS[@]} -gt 0 ] || die "no validation program selected"

# ------------------------------------------------------- host preparation ----

# crun refuses a hybrid cgroup v1 host without a hugetlb hierarchy ("cgroups
# in hybrid mode not supported"); every runtime gets the same host.
prepare_host() {
	if [ -d /sys/fs/cgroup/unified ] && ! mountpoint -q /sys/fs/cgroup/hugetlb &&
		awk '$1 == "hugetlb" && $4 == 1 { f = 1 } END { exit !f }' /proc/cgroups; then
		log "mounting the cgroup v1 hugetlb hierarchy on /sys/fs/cgroup/hugetlb"
		mkdir -p /sys/fs/cgroup/hugetlb
		mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb ||
			echo "run.sh: warning: could not mount the hugetlb hierarchy" >&2
	fi
}
prepare_host

# ------------------------------------------------------------- clean up ----

# Mount points at or under $1, deepest first (mountinfo escapes octal).
mounts_under() {
	awk -v d="$1" '{
		p = $5; out = ""
		while (match(p, /\\[0-7][0-7][0-7]/)) {
			c = substr(p, RSTART + 1, 3)
			out = out substr(p, 1, RSTART - 1) sprintf("%c", substr(c, 1, 1) * 64 + substr(c, 2, 1) * 8 + substr(c, 3, 1))
			p = substr(p, RSTART + 4)
		}
		p = out p
		if (p == d || index(p, d "/") == 1) print gsub("/", "/", p) "\t" p
	}' /proc/self/mountinfo | sort -t$'\t' -k1,1nr -k2 -u | cut -f2-
}

# cleanup_tmp RUNTIME DIR: delete the containers of RUNTIME whose bundle lies
# under DIR, unmount everything under DIR (linux_ns_itype shares the host
# mount namespace, so proc/sys/dev may land on the host's bundle), then
# empty DIR (never crossing into a mount that is left).
cleanup_tmp() {
	local rt=$1 dir=$2 id m mp i
	for id in $("$rt" list 2>/dev/null | awk -v d="$dir/" 'NR > 1 { for (i = 2; i <= NF; i++) if (index($i, d) == 1) { print $1; break } }'); do
		"$rt" delete --force "$id" >/dev/null 2>&1 || {
			"$rt" kill "$id" KILL >/dev/null 2>&1 || true
			sleep 0.2
			"$rt" delete --force "$id" >/dev/null 2>&1 || true
		}
	done
	for i in 1 2 3; do
		m=$(mounts_under "$dir")
		[ -n "$m" ] || break
		while IFS= read -r mp; do
			umount -l "$mp" 2>/dev/null || true
		done <<<"$m"
	done
	if [ -n "$(mounts_under "$dir")" ]; then
		echo "run.sh: warning: mounts left under $dir; not emptying it:" >&2
		mounts_under "$dir" >&2
		return 1
	fi
	find "$dir" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} + 2>/dev/null || true
}

TMPDIRS=()
on_exit() {
	local i d
	for d in ${TMPDIRS[@]+"${TMPDIRS[@]}"}; do
		[ -d "$d" ] || continue
		for i in "${!PATHS[@]}"; do cleanup_tmp "${PATHS[$i]}" "$d" || true; done
		[ -n "$(mounts_under "$d")" ] || rm -rf --one-file-system "$d"
	done
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# --------------------------------------------------------------- parsing ----

# parse_tap PROGRAM TAPFILE STDERRFILE RC TIMEDOUT: one line per assertion,
# program<TAB>pass|fail<TAB>kind<TAB>text<TAB>detail, kind being assert (a
# TAP line), program (a program that printed no assertion) or timeout.
parse_tap() {
	local firsterr
	firsterr=$(grep -v '^[[:space:]]*$' "$3" 2>/dev/null | head -n 1 | cut -c1-240 | tr '\t' ' ') || true
	awk -v prog="$1" -v rc="$4" -v timedout="$5" -v tmo="$TIMEOUT" -v firsterr="$firsterr" '
	function clean(s) { gsub(/\t/, " ", s); sub(/[ \r]+$/, "", s); return s }
	/^ok [0-9]+/ || /^not ok [0-9]+/ {
		st = ($1 == "ok") ? "pass" : "fail"
		t = $0
		sub(/^(not )?ok [0-9]+ *(- *)?/, "", t)
		n++
		print prog "\t" st "\tassert\t" clean(t) "\t"
		inyaml = 0
		next
	}
	/^  ---$/ { inyaml = 1; next }
	/^  \.\.\.$/ { inyaml = 0; next }
	inyaml && /^ *"error": / {
		e = $0
		sub(/^ *"error": *"/, "", e)
		sub(/",?$/, "", e)
		sub(/\\n.*/, "", e)
		gsub(/\\"/, "\"", e)
		if (errmsg == "") errmsg = e
		nerr++
	}
	END {
		if (n == 0 && !timedout) {
			if (rc == 0 && nerr == 0)
				print prog "\tpass\tprogram\tprogram succeeded\t"
			else if (nerr > 0)
				print prog "\tfail\tprogram\t" clean(errmsg) "\t" clean(rc != 0 ? "exit status " rc "; " firsterr : "")
			else
				print prog "\tfail\tprogram\texited with status " rc "\t" clean(firsterr)
		}
		if (timedout)
			print prog "\tfail\ttimeout\ttimed out after " tmo "s\t" clean(firsterr)
	}' "$2"
}

# ------------------------------------------------------------------- run ----

run_runtime() {
	local name=$1 rt=$2 out=$RESULTS/$1 tmp prog rc timedout t0 t1
	rm -rf "$out"
	mkdir -p "$out"
	tmp=$(mktemp -d /tmp/conformance-"$name".XXXXXX)
	chmod 0755 "$tmp"
	TMPDIRS+=("$tmp")
	: >"$out/assertions.tsv"
	log "$name ($rt): ${#PROGRAMS[@]} programs, bundles in $tmp, logs in $out"
	t0=$(date +%s)
	for prog in "${PROGRAMS[@]}"; do
		rc=0
		(cd "$SUITE_BIN" && TMPDIR=$tmp RUNTIME=$rt exec timeout -k 10 "$TIMEOUT" "./$prog") \
			</dev/null >"$out/$prog.tap" 2>"$out/$prog.stderr" || rc=$?
		timedout=0
		[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || timedout=1
		echo "$rc" >"$out/$prog.rc"
		cleanup_tmp "$rt" "$tmp" || true
		parse_tap "$prog" "$out/$prog.tap" "$out/$prog.stderr" "$rc" "$timedout" >>"$out/assertions.tsv"
		awk -F'\t' -v p="$prog" -v rc="$rc" '$1 == p { if ($2 == "pass") a++; else b++ }
			END { printf "   %-40s %5d passed %4d failed  (exit %d)\n", p, a, b, rc }' "$out/assertions.tsv" >&2
	done
	t1=$(date +%s)
	log "$name: done in $((t1 - t0)) s"
	cleanup_tmp "$rt" "$tmp" || true
	rm -rf --one-file-system "$tmp" 2>/dev/null || true
}

for i in "${!NAMES[@]}"; do
	run_runtime "${NAMES[$i]}" "${PATHS[$i]}"
done

# ---------------------------------------------------------------- report ----

# Known failures: program<TAB>substring<TAB>reason.
known=$RESULTS/.known.tsv
if [ -f "$KNOWN_FILE" ]; then
	awk -F'\t' '/^[[:space:]]*(#|$)/ { next } { print $1 "\t" $2 "\t" $3 }' "$KNOWN_FILE" >"$known"
else
	: >"$known"
fi

ref_tsv=/dev/null
[ -z "$REFERENCE" ] || ref_tsv=$RESULTS/$REFERENCE/assertions.tsv

# Subject failures classified: known (known-failures.txt), regression (the
# reference passes it: it passes the same assertion of the same program, or
# never reports that assertion text in that program but passes assertions of
# it, as when the subject fails to run the program at all), or other (the
# reference fails it too, or does not run that program).
classified=$RESULTS/.classified.tsv
awk -F'\t' -v OFS='\t' -v haveref="$REFERENCE" '
	FILENAME == ARGV[1] { kp[++nk] = $1; ks[nk] = $2; kr[nk] = $3; next }
	FILENAME == ARGV[2] {
		seen[$1 "\t" $4] = 1
		if ($2 == "pass") { rp[$1 "\t" $4] = 1; rpp[$1]++ }
		next
	}
	$2 == "fail" {
		cls = "other"; why = ""
		for (k = 1; k <= nk; k++)
			if (kp[k] == $1 && (ks[k] == "" || ks[k] == "*" || index($4, ks[k]) > 0)) { cls = "known"; why = kr[k]; break }
		if (cls != "known" && haveref != "") {
			key = $1 "\t" $4
			if ((key in rp) || (!(key in seen) && rpp[$1] > 0)) cls = "regression"
		}
		print cls, $1, $4, $5, why
	}' "$known" "$ref_tsv" "$RESULTS/$SUBJECT/assertions.tsv" >"$classified"

echo
echo "runtime-tools validation ($RT_VERSION), per program:"
{
	printf '%-36s' program
	for n in "${NAMES[@]}"; do printf ' %9s %6s  ' "$n:pass" fail; done
	printf '\n'
	for prog in "${PROGRAMS[@]}"; do
		printf '%-36s' "$prog"
		for n in "${NAMES[@]}"; do
			awk -F'\t' -v p="$prog" '$1 == p { if ($2 == "pass") a++; else b++; if ($3 == "timeout") t = "T" }
				END { printf " %9d %6d%-2s", a, b, (t ? " T" : "") }' "$RESULTS/$n/assertions.tsv"
		done
		awk -F'\t' -v p="$prog" '$2 == p && $1 == "regression" { r++ } END { if (r) printf " <- %d regression%s", r, (r > 1 ? "s" : "") }' "$classified"
		printf '\n'
	done
} | sed 's/ *$//'
echo "(T: timed out after ${TIMEOUT}s; <-: $SUBJECT failures that ${REFERENCE:-the reference} passes)"

echo
echo "totals:"
for n in "${NAMES[@]}"; do
	awk -F'\t' -v n="$n" '{ if ($2 == "pass") a++; else { b++; fp[$1] = 1 } if ($3 == "timeout") t++ }
		END { for (p in fp) np++; printf "  %-12s %5d passed, %4d failed (%d programs with failures, %d timeouts)\n", n, a, b, np, t }' \
		"$RESULTS/$n/assertions.tsv"
done

show() { awk -F'\t' -v c="$1" '$1 == c { printf "  %-32s %s%s\n", $2, $3, ($4 != "" ? "  [" $4 "]" : "") }' "$classified"; }
nreg=$(awk -F'\t' '$1 == "regression"' "$classified" | wc -l)
nknown=$(awk -F'\t' '$1 == "known"' "$classified" | wc -l)
nother=$(awk -F'\t' '$1 == "other"' "$classified" | wc -l)
if [ -n "$REFERENCE" ]; then
	echo
	echo "$SUBJECT failures that $REFERENCE passes ($nreg):"
	show regression
	echo
	echo "other $SUBJECT failures ($REFERENCE fails them too) ($nother):"
	show other
else
	echo
	echo "$SUBJECT failures ($nother):"
	show other
fi
echo
echo "known $SUBJECT failures ($nknown, from ${KNOWN_FILE#"$REPO_ROOT"/}):"
awk -F'\t' '$1 == "known" { printf "  %-32s %s  -- %s\n", $2, $3, $5 }' "$classified"

spass=$(awk -F'\t' '$2 == "pass"' "$RESULTS/$SUBJECT/assertions.tsv" | wc -l)
sfail=$(awk -F'\t' '$2 == "fail"' "$RESULTS/$SUBJECT/assertions.tsv" | wc -l)
status=0
echo
if [ -n "$REFERENCE" ]; then
	rpass=$(awk -F'\t' '$2 == "pass"' "$RESULTS/$REFERENCE/assertions.tsv" | wc -l)
	# The count compares the programs with no known failure: a program
	# rung refuses by design (known-failures.txt) passes nothing for it.
	cpass() { awk -F'\t' 'FILENAME == ARGV[1] { if ($1 == "known") k[$2] = 1; next } $2 == "pass" && !($1 in k)' "$classified" "$1" | wc -l; }
	scount=$(cpass "$RESULTS/$SUBJECT/assertions.tsv")
	rcount=$(cpass "$RESULTS/$REFERENCE/assertions.tsv")
	if [ "$nreg" -gt 0 ] || [ "$scount" -lt "$rcount" ]; then status=1; fi
	verdict=PASS
	[ "$status" -eq 0 ] || verdict=FAIL
	[ "$REPORT_ONLY" -eq 0 ] || verdict="$verdict (report only)"
	echo "verdict: $verdict: $SUBJECT passes $spass ($REFERENCE $rpass; $scount and $rcount outside the programs with known failures), $nreg failures that $REFERENCE passes"
fi
echo "logs: $RESULTS"
echo
echo "$spass passed, $sfail failed"
[ "$REPORT_ONLY" -eq 1 ] && exit 0
exit $status
}
