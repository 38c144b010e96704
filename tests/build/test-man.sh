#!/usr/bin/env bash
# test-man.sh - the man pages: each renders without a warning (groff -ww, and
# mandoc -T lint when mandoc is installed) and has a NAME line naming itself;
# every throttlectl verb and every option of its usage line and of its
# help's option lines (long aliases such as run's --timeout), and every
# option of `throttle --help`, is in its page; a reference to one of these
# pages names its section; libthrottle(7) lists every function the shim
# hooks. A new verb, option or hook without docs fails here.
# Usage: test-man.sh MANDIR THROTTLECTL THROTTLE MAPFILE
set -u
mandir=$1 throttlectl=$2 throttle=$3 map=$4

fail() {
	echo "FAIL: $*"
	exit 1
}

# A page's source with its escaped hyphens plain and font changes gone, as
# a reader sees them.
plain() {
	sed -e 's/\\-/-/g' -e 's/\\f[A-Z1-4]//g' "$1"
}

# Is $2 in $1's text as a word of its own (an option, a verb)?
names() {
	plain "$1" | grep -qE -- "(^|[^A-Za-z0-9-])$2([^A-Za-z0-9-]|\$)"
}

pages=("$mandir"/*.[1-8])
[ "${#pages[@]}" -ge 4 ] || fail "only ${#pages[@]} pages in $mandir"
for page in "${pages[@]}"; do
	err=$(groff -man -ww -z "$page" 2>&1) || fail "groff on $page failed: $err"
	[ -z "$err" ] || fail "groff warns on $page: $err"
	if command -v mandoc >/dev/null; then
		err=$(mandoc -T lint "$page" 2>&1) || fail "mandoc -T lint $page: $err"
		[ -z "$err" ] || fail "mandoc warns on $page: $err"
	fi
	# NAME: "name[, name...] \- what it is", a name being the file's or,
	# as throttle.3 names its functions (throttle_open...), starting so
	name=$(basename "$page")
	name=${name%.*}
	line=$(sed -n '/^\.SH NAME$/,/^\.S[HS] /{/^\.S[HS] /!p}' "$page" | tr '\n' ' ')
	names_re='^([A-Za-z0-9_.]+(, ?[A-Za-z0-9_.]+)*) \\- [^ ]'
	[[ "$line" =~ $names_re ]] || fail "$page: NAME is '$line'"
	listed=${BASH_REMATCH[1]}
	[[ ", $listed," =~ [,\ ]$name[,_] ]] ||
		fail "$page: NAME '$listed' does not name $name"
	section=${page##*.}
	grep -qE "^\.TH [^ ]+ $section " "$page" || fail "$page: .TH not of section $section"
done

# throttlectl(8): a subsection per verb of --help, with the verb's options.
page=$mandir/throttlectl.8
verbs=$("$throttlectl" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
[ -n "$verbs" ] || fail "no verbs in throttlectl --help"
for verb in $verbs; do
	plain "$page" | grep -qx "\.SS $verb" || fail "throttlectl.8: no .SS for verb $verb"
	help=$("$throttlectl" "$verb" --help)
	usage=$(head -n 1 <<<"$help")
	[[ "$usage" == "usage: throttlectl $verb"* ]] || fail "$verb --help: $usage"
	for opt in $(grep -oE -- '-{1,2}[A-Za-z][A-Za-z-]*' <<<"${usage#"usage: throttlectl $verb"}") \
		$(grep -E '^ +-' <<<"$help" | grep -oE -- '(^| )-{1,2}[A-Za-z][A-Za-z-]*'); do
		names "$page" "$opt" || fail "throttlectl.8: $verb's $opt is not documented"
	done
done
for opt in $("$throttlectl" --help | sed -n '/^options:/,$p' | grep -oE -- '(^| )-{1,2}[A-Za-z][A-Za-z-]*'); do
	names "$page" "$opt" || fail "throttlectl.8: $opt is not documented"
done

# References between the pages ("throttlectl (8)" in .BR) name the page's
# own section.
for page in "${pages[@]}"; do
	for other in "${pages[@]}"; do
		name=$(basename "$other")
		section=${name##*.} name=${name%.*}
		# throttle is two pages, throttle(1) and throttle(3)
		[ "$name" = throttle ] && continue
		bad=$(plain "$page" | grep -E "^\.BR? $name \([0-9]\)" | grep -v "($section)")
		[ -z "$bad" ] || fail "$(basename "$page") refers to $bad, not $name($section)"
	done
done

# throttle(1): every option of --help.
opts=$("$throttle" --help | grep -E '^ +-' | grep -oE -- '(^| )-{1,2}[A-Za-z][A-Za-z-]*')
[ -n "$opts" ] || fail "no options in throttle --help"
for opt in $opts; do
	names "$mandir/throttle.1" "$opt" || fail "throttle.1: $opt is not documented"
done

# libthrottle(7): every hooked name of the version script (the throttle_*
# names are the C API, throttle(3)).
hooks=$(sed -n '/^global:/,/^local:/p' "$map" | grep -v ':' | tr -s ' \t;' '\n\n\n' |
	grep -v '^throttle_' | grep .)
[ "$(wc -l <<<"$hooks")" -ge 40 ] || fail "too few hooks read from $map: $hooks"
for hook in $hooks; do
	names "$mandir/libthrottle.7" "$hook" || fail "libthrottle.7: hooked $hook is not listed"
done
echo "PASS: ${#pages[@]} pages"
