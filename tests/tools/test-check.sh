#!/usr/bin/env bash
# test-check.sh - `throttlectl check FILE...` on configs that break each rule
# the config reader knows (each error's FILE:LINE and exit 1, and the same
# line the wrapper, through the same reader, prints), on configs that load
# but deserve a warning (exit 0), on the example config, on several FILEs,
# and on usage errors. Unresolvable names are under .invalid (RFC 2606): no
# network is needed, and none is asked for long.
# Usage: test-check.sh THROTTLECTL THROTTLE EXAMPLE-CONFIG
set -u
# Where DNS is unreachable, a lookup waits out the resolver's timeouts (5 s,
# twice, by default): bound them, as an operator may, through glibc's own
# variable, so that the three lookups of host.conf stay short.
export RES_OPTIONS="timeout:2 attempts:1"
ctl=$(realpath "$1") throttle=$(realpath "$2") example=$(realpath "$3")
tmp=$(realpath "$(mktemp -d)")
chmod 755 "$tmp"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp" || exit 1

fail() {
	echo "FAIL: $*"
	exit 1
}

# Runs throttlectl check ARGS: stdout, stderr and status in out, err, $rc.
check() {
	"$ctl" check "$@" >out 2>err
	rc=$?
}

# conf NAME TEXT: writes the config file NAME (mode 0644, ours).
conf() {
	printf '%s\n' "$2" >"$1"
	chmod 644 "$1"
}

# The first error line check wrote.
first_error() {
	grep -v ': warning: ' err | head -n 1
}

# expect_error FILE PREFIX WORDS: check FILE fails (exit 1, nothing on
# stdout) with an error line that starts with PREFIX and holds WORDS.
expect_error() {
	local file=$1 prefix=$2 words=$3 line
	check "$file"
	[ "$rc" -eq 1 ] || fail "check $file: exit $rc, not 1: $(cat err)"
	[ ! -s out ] || fail "check $file wrote to stdout: $(cat out)"
	line=$(first_error)
	case "$line" in
	"$prefix"*"$words"*) ;;
	*) fail "check $file: expected '$prefix...$words', got: $(cat err)" ;;
	esac
}

# like_wrapper FILE: the wrapper, loading FILE through the same reader as
# the shim (it names it by its absolute path), prints check's first error.
like_wrapper() {
	local line
	check "$tmp/$1"
	line=$(first_error)
	"$throttle" -c "$1" true >/dev/null 2>wrapper
	[ -n "$line" ] && grep -qxF "throttle: $line" wrapper ||
		fail "check $1 said '$line'; the wrapper: $(cat wrapper)"
}

# expect_warning FILE PREFIX WORDS: check FILE passes (exit 0, FILE: ok on
# stdout) with a warning line that starts with PREFIX and holds WORDS.
expect_warning() {
	local file=$1 prefix=$2 words=$3
	check "$file"
	[ "$rc" -eq 0 ] || fail "check $file: exit $rc, not 0: $(cat err)"
	grep -q "^$file: ok, " out || fail "check $file: no ok: $(cat out)"
	grep -qF "$prefix" err || fail "check $file: no '$prefix': $(cat err)"
	grep -F "$prefix" err | grep -qF "$words" ||
		fail "check $file: '$prefix' without '$words': $(cat err)"
}

good='pool good {
  limit = 3
  open = "'"$tmp"'/*"
}'

# ---- a clean config: ok, nothing on stderr ----
conf clean.conf "$good"
check clean.conf
[ "$rc" -eq 0 ] || fail "clean: exit $rc: $(cat err)"
[ "$(cat out)" = "clean.conf: ok, 1 pool" ] || fail "clean: $(cat out)"
[ ! -s err ] || fail "clean: stderr: $(cat err)"

# ---- every error class the reader knows ----
conf syntax.conf 'pool a {
  limit = 2
  open = "/tmp/*"
  limit 3
}'
expect_error syntax.conf "syntax.conf:4: " "missing equal sign after option 'limit'"
like_wrapper syntax.conf

conf unknown.conf 'pool a {
  limit = 2
  open = "/tmp/*"
  frobnicate = 1
}'
expect_error unknown.conf "unknown.conf:4: " "unknown option 'frobnicate'"
like_wrapper unknown.conf

conf limit0.conf 'pool a {
  open = "/tmp/*"
  limit = 0
}'
expect_error limit0.conf "limit0.conf:3: " "bad limit '0'"
like_wrapper limit0.conf
conf limitbig.conf 'pool a {
  open = "/tmp/*"

  limit = 1025
}'
expect_error limitbig.conf "limitbig.conf:4: " "bad limit '1025'"
like_wrapper limitbig.conf
conf nolimit.conf '
pool a {
  open = "/tmp/*"
}'
expect_error nolimit.conf "nolimit.conf:2: " "pool 'a' has no limit"
like_wrapper nolimit.conf

conf name.conf '# a comment first
pool "bad name!" {
  limit = 2
  open = "/tmp/*"
}'
expect_error name.conf "name.conf:2: " "bad pool name 'bad name!'"
like_wrapper name.conf

conf relative.conf 'pool a {
  limit = 2
  open = "tmp/*"
}'
expect_error relative.conf "relative.conf:3: " "relative glob 'tmp/*'"
like_wrapper relative.conf
conf slashes.conf 'pool a {
  limit = 2
  open = "/tmp//*"
}'
expect_error slashes.conf "slashes.conf:3: " "'//' never matches"
like_wrapper slashes.conf
conf dots.conf 'pool a {
  limit = 2
  open = "/tmp/../etc/*"
}'
expect_error dots.conf "dots.conf:3: " "'.' or '..' never matches"
like_wrapper dots.conf
conf port.conf 'pool a {
  limit = 2
  connect = "10.0.0.1:99999"
}'
expect_error port.conf "port.conf:3: " "bad port"
like_wrapper port.conf

# A hostname that does not resolve now (a typo, or DNS down at start): a
# warning, not an error, in check as in the shim, which says it (once in
# each process that loads the config) and gates the rest: here the pool's
# open pattern, seen held from outside.
pool=tcheck-$$
mkdir gated
: >gated/f
conf host.conf "pool $pool {
  limit = 2
  connect = { \"127.0.0.1:5432\",
              \"db.throttle-check.invalid:5432\" }
  open = \"$tmp/gated/*\"
}"
start=$(date +%s)
expect_warning host.conf "host.conf:4: warning: " "cannot resolve 'db.throttle-check.invalid'"
"$throttle" -c host.conf -- sh -c "exec 3<'$tmp/gated/f'; touch up; \
	while [ ! -e go ]; do sleep 0.05; done" 2>shim &
shim_pid=$!
for _ in $(seq 200); do [ -e up ] && break; sleep 0.05; done
"$ctl" status --json "$pool" >status 2>&1
touch go
wait "$shim_pid"
rm -f "/dev/shm/throttle.$pool"
grep -q '"in_use":1' status || fail "the pool's open pattern was not gated: $(cat status)"
# Each process that loads the config says it once (sh, and each sleep).
[ -s shim ] && ! grep -v "^throttle: $tmp/host.conf:4: warning: cannot resolve 'db.throttle-check.invalid'" shim ||
	fail "the shim should say the unresolved name, once a process: $(cat shim)"
[ $(($(date +%s) - start)) -lt 20 ] || fail "an unresolvable name took long"

conf timeout.conf 'pool a {
  limit = 2
  open = "/tmp/*"
  timeout = "5 days"
}'
expect_error timeout.conf "timeout.conf:4: " "bad timeout '5 days'"
like_wrapper timeout.conf
conf string.conf 'pool a {
  limit = 2
  open = "/tmp/*
}'
expect_error string.conf "string.conf:3: " "unterminated string"
like_wrapper string.conf
conf brace.conf '
pool a {
  limit = 2
  open = "/tmp/*"'
expect_error brace.conf "brace.conf:2: " "'{' is never closed"
like_wrapper brace.conf

conf dup.conf "$good"'
include "dup-inc.conf"'
conf dup-inc.conf '

pool good {
  limit = 5
  open = "/srv/*"
}'
expect_error dup.conf "dup-inc.conf:3: " \
	"duplicate pool 'good' (first defined at dup.conf:1)"
like_wrapper dup.conf

conf onerror.conf "$good"'
include "onerror-inc.conf"'
conf onerror-inc.conf 'on-error = closed'
expect_error onerror.conf "onerror-inc.conf:1: " \
	"on-error may only be set in the main file"
like_wrapper onerror.conf

conf missing.conf "$good"'

include "no-such-file.conf"'
expect_error missing.conf "missing.conf:6: " \
	"no-such-file.conf: No such file or directory"
like_wrapper missing.conf

# Nine levels of includes, one more than the reader follows.
for i in 1 2 3 4 5 6 7 8 9; do
	conf "deep$i.conf" "include \"deep$((i + 1)).conf\""
done
conf deep10.conf "$good"
expect_error deep1.conf "deep9.conf:1: " "includes nested too deeply"
like_wrapper deep1.conf

conf cycle.conf "$good"'
include "cycle-inc.conf"'
conf cycle-inc.conf '
include "cycle.conf"'
expect_error cycle.conf "cycle-inc.conf:2: " "include cycle"
like_wrapper cycle.conf

mkfifo fifo.conf
expect_error fifo.conf "fifo.conf: " "not a regular file"
like_wrapper fifo.conf
mkdir folder.conf
expect_error folder.conf "folder.conf: " "Is a directory"
expect_error nothere.conf "nothere.conf: " "No such file or directory"

conf writable.conf "$good"
chmod 666 writable.conf
expect_error writable.conf "writable.conf: " "writable by every user"
like_wrapper writable.conf

if [ "$(id -u)" -eq 0 ]; then
	# Root reads anything: the unreadable file is read as nobody, who may
	# trust root's files but not read this one.
	conf unreadable.conf "$good"
	chmod 600 unreadable.conf
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$ctl" check unreadable.conf >out 2>err
	rc=$?
	[ "$rc" -eq 1 ] || fail "unreadable: exit $rc: $(cat err)"
	grep -qx "unreadable.conf: Permission denied" err ||
		fail "unreadable: $(cat err)"
	conf foreign.conf "$good"
	chown 12345 foreign.conf
	expect_error foreign.conf "foreign.conf: " "owned by uid 12345"
else
	conf unreadable.conf "$good"
	chmod 000 unreadable.conf
	expect_error unreadable.conf "unreadable.conf: " "Permission denied"
	echo "SKIP: a file of another owner (needs root to make)"
fi

# ---- an include's error does not hide the next one's ----
conf two.conf "$good"'
include "two-a.conf"
include "two-b.conf"'
conf two-a.conf 'pool x { limit = 2 open = "/tmp/a" frob = 1 }'
conf two-b.conf 'pool y {
  limit = 0
  open = "/tmp/b"
}'
check two.conf
[ "$rc" -eq 1 ] || fail "two: exit $rc"
grep -q "^two-a.conf:1: unknown option 'frob'" err || fail "two: a: $(cat err)"
grep -q "^two-b.conf:2: bad limit '0'" err || fail "two: b: $(cat err)"

# ---- warnings: legal but likely wrong, exit 0 ----
conf nofolder.conf "pool a {
  limit = 2

  open = { \"/tmp/*\", \"$tmp/no-such-folder/*.db\" }
}"
expect_warning nofolder.conf "nofolder.conf:4: warning: " \
	"is under $tmp/no-such-folder, which does not exist now: likely wrong"
conf nofolder-unix.conf "pool a {
  limit = 2
  connect = \"unix:$tmp/no-such-run/sock.*\"
}"
expect_warning nofolder-unix.conf "nofolder-unix.conf:3: warning: " \
	"'unix:$tmp/no-such-run/sock.*' is under $tmp/no-such-run"
touch plain
conf notfolder.conf "pool a {
  limit = 2
  open = \"$tmp/plain/x\"
}"
expect_warning notfolder.conf "notfolder.conf:3: warning: " \
	"is under $tmp/plain, which is not a folder"
mkdir real
ln -s real link
conf symlink.conf "pool a {
  limit = 2
  open = \"$tmp/link/**\"
}"
expect_warning symlink.conf "symlink.conf:3: warning: " \
	"symbolic link to $tmp/real"
conf failtimeout.conf '
pool a {
  limit = 2
  open = "/tmp/*"
  on-full = fail
  timeout = 5s
}'
expect_warning failtimeout.conf "failtimeout.conf:2: warning: " \
	"pool 'a': timeout has no effect with on-full = fail"
# A file whose path is longer than an error line's buffer: the warning
# still ends with its reason (and writes nothing past the buffer).
long=$tmp
for _ in 1 2 3 4 5 6; do long=$long/$(printf 'd%.0s' $(seq 1 90)); done
mkdir -p "$long"
cp failtimeout.conf "$long/f.conf"
check "$long/f.conf"
[ "$rc" -eq 0 ] || fail "a long path: exit $rc: $(cat err)"
grep -q "^$long/f.conf:2: warning: pool 'a': timeout has no effect" err ||
	fail "a long path: $(cat err)"
conf waittimeout.conf 'pool a {
  limit = 2
  open = "/tmp/*"
  timeout = 5s
}'
check waittimeout.conf
[ "$rc" -eq 0 ] && [ ! -s err ] || fail "a timeout with wait: $(cat err)"

# The same pool, limited apart by two files: both places, both limits.
conf other.conf 'pool good {

  limit = 7
  open = "/tmp/*"
}'
check clean.conf other.conf
[ "$rc" -eq 0 ] || fail "two limits: exit $rc: $(cat err)"
grep -qx "other.conf:1: warning: pool 'good' has limit 7 here and 3 at clean.conf:1: .*" err ||
	fail "two limits: $(cat err)"
[ "$(grep -c ': ok, 1 pool$' out)" -eq 2 ] || fail "two limits: $(cat out)"

# ---- the example config loads ----
check "$example"
[ "$rc" -eq 0 ] || fail "example: exit $rc: $(cat err)"
grep -qx "$example: ok, [0-9]* pools" out || fail "example: $(cat out)"
! grep -v ': warning: ' err | grep -q . || fail "example: $(cat err)"

# ---- several FILEs, one bad: the others still reported ----
check clean.conf unknown.conf waittimeout.conf
[ "$rc" -eq 1 ] || fail "several: exit $rc"
[ "$(cat out)" = "clean.conf: ok, 1 pool
waittimeout.conf: ok, 1 pool" ] || fail "several: $(cat out)"
[ "$(cat err)" = "unknown.conf:4: unknown option 'frobnicate'" ] ||
	fail "several: $(cat err)"

# ---- usage ----
check
[ "$rc" -eq 2 ] || fail "no FILE: exit $rc"
grep -q "^throttlectl: no FILE given; usage: throttlectl check FILE" err ||
	fail "no FILE: $(cat err)"
check --frob clean.conf
[ "$rc" -eq 2 ] || fail "bad option: exit $rc"
grep -q "^throttlectl: unknown option '--frob'" err || fail "bad option: $(cat err)"
[ ! -s out ] || fail "bad option: stdout $(cat out)"
check --help
[ "$rc" -eq 0 ] || fail "--help: exit $rc"
grep -q "^usage: throttlectl check FILE" out || fail "--help: $(cat out)"
grep -q "exit status" out || fail "--help: no exit status: $(cat out)"
"$ctl" --help | grep -q "^  check FILE" || fail "throttlectl --help has no check"

echo "ok"
