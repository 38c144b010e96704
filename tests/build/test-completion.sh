#!/usr/bin/env bash
# test-completion.sh - the bash completions of throttle and throttlectl,
# sourced into this shell and called as bash calls them (COMP_WORDS,
# COMP_CWORD), their COMPREPLY checked: verbs, each verb's options, pools
# from /dev/shm, files, services, commands. Every verb and option the tools'
# --help name must be completed, so a new one without completion fails here.
# Usage: test-completion.sh COMPLETIONDIR THROTTLECTL THROTTLE
set -u
dir=$(realpath "$1") throttlectl=$(realpath "$2") throttle=$(realpath "$3")
tmp=$(mktemp -d)
pools=(/dev/shm/throttle.comptest-$$-a /dev/shm/throttle.comptest-$$-b)
trap 'rm -rf "$tmp" "${pools[@]}"' EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}

# shellcheck source=/dev/null
source "$dir/throttlectl.bash" || fail "sourcing throttlectl.bash"
# shellcheck source=/dev/null
source "$dir/throttle.bash" || fail "sourcing throttle.bash"
complete -p throttlectl | grep -q -- '-F _throttlectl' || fail "throttlectl not registered"
complete -p throttle | grep -q -- '-F _throttle' || fail "throttle not registered"

# comp FUNCTION WORD...: completes the last WORD; $got is the sorted
# replies, one a line.
comp() {
	local fn=$1
	shift
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=(x-not-set)
	"$fn"
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sort)
}

# want WHAT LINE...: $got is exactly these lines.
want() {
	local what=$1
	shift
	[ "$got" = "$(printf '%s\n' "$@" | sort)" ] || fail "$what: got [${got//$'\n'/ }]"
}

# has WHAT WORD...: $got has each WORD among its lines.
has() {
	local what=$1 w
	shift
	for w in "$@"; do
		grep -qxF -- "$w" <<<"$got" || fail "$what: no '$w' in [${got//$'\n'/ }]"
	done
}

touch "${pools[@]}" "$tmp/a.conf" "$tmp/b.txt"
mkdir "$tmp/dir" "$tmp/confdir"
touch "$tmp/confdir/svc-one.conf" "$tmp/confdir/svc-two.conf" "$tmp/confdir/notes.txt"
cd "$tmp" || fail "cd"
p=comptest-$$

# ---- throttlectl: verbs, each with its options from its usage line and
# its help's option lines (long aliases such as run's --timeout) ----
verbs=$("$throttlectl" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
[ -n "$verbs" ] || fail "no verbs in throttlectl --help"
comp _throttlectl throttlectl ""
# shellcheck disable=SC2086
has "verbs" $verbs --help --version
comp _throttlectl throttlectl st
want "st" status
for verb in $verbs; do
	help=$("$throttlectl" "$verb" --help)
	usage=$(head -n 1 <<<"$help")
	aliases=$(grep -E '^ +-' <<<"$help" | grep -oE -- '(^| )-{1,2}[A-Za-z][A-Za-z-]*')
	comp _throttlectl throttlectl "$verb" -
	# shellcheck disable=SC2046,SC2086
	has "$verb's options" --help $(grep -oE -- '-{1,2}[A-Za-z][A-Za-z-]*' <<<"${usage#"usage: throttlectl $verb"}") $aliases
done

# ---- pools where a verb takes pools ----
for verb in status top metrics reclaim remove set-limit run; do
	comp _throttlectl throttlectl "$verb" "$p"
	want "$verb's pools" "$p-a" "$p-b"
done
comp _throttlectl throttlectl status --json "$p-a" "$p"
want "status, after a pool" "$p-a" "$p-b"
comp _throttlectl throttlectl set-limit "$p-a" ""
want "set-limit's number" ""
comp _throttlectl throttlectl top -d ""
want "top -d" ""
comp _throttlectl throttlectl metrics --textfile d
want "metrics --textfile" dir
comp _throttlectl throttlectl check ""
want "check" a.conf b.txt confdir dir
comp _throttlectl throttlectl nosuchverb ""
want "unknown verb" ""

# ---- run: options and the pool, then a command, then its arguments ----
comp _throttlectl throttlectl run --limit ""
want "run --limit" ""
comp _throttlectl throttlectl run --limit 2 "$p"
want "run --limit 2 POOL" "$p-a" "$p-b"
comp _throttlectl throttlectl run "$p-a" bas
has "run's command" bash
comp _throttlectl throttlectl run "$p-a" --fail -t 5 -- bas
has "run's command after --" bash
comp _throttlectl throttlectl run "$p-a" --timeout ""
want "run --timeout" ""
comp _throttlectl throttlectl run --timeout 5 "$p-a" bas
has "run's command after --timeout SECS" bash
comp _throttlectl throttlectl run "$p-a" -- cat a
want "run's command's arguments" a.conf

# ---- throttle: options, config files, services, then a command ----
opts=$("$throttle" --help | grep -E '^ +-' | grep -oE -- '(^| )-{1,2}[A-Za-z][A-Za-z-]*')
[ -n "$opts" ] || fail "no options in throttle --help"
comp _throttle throttle -
# shellcheck disable=SC2086
has "throttle's options" $opts
comp _throttle throttle -c a
want "-c FILE" a.conf
comp _throttle throttle --config ""
want "--config FILE" a.conf b.txt confdir dir
_throttle_confdir=$tmp/confdir
comp _throttle throttle -s svc
want "-s SERVICE" svc-one svc-two
comp _throttle throttle -q -s svc-one bas
has "the command" bash
comp _throttle throttle -c a.conf -- bas
has "the command after --" bash
comp _throttle throttle -c a.conf cat a
want "the command's arguments" a.conf
comp _throttle throttle -c a.conf cat -
want "the command's options are not throttle's" ""
echo "PASS"
