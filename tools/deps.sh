# Sourced by tools/test and tools/demo: installs what the build needs on Debian,
# or, as non-root, prints the exact apt-get line and fails.
THROTTLE_BUILD_PKGS="meson ninja-build pkg-config gcc libc6-dev libconfuse-dev libcmocka-dev"
# What the tools tests drive besides the build: tmux, a real terminal for
# `throttlectl top` (test-top.sh); groff-base and mandoc, the man pages'
# lint (tests/build/test-man.sh); python3-prometheus-client, whose parser
# reads metrics' output too (test-metrics.sh).
THROTTLE_TEST_PKGS="tmux groff-base mandoc python3-prometheus-client"
# The real programs the programs suite runs under the shim (node: see
# throttle_need_programs).
THROTTLE_PROGRAM_PKGS="redis-server redis-tools wget netcat-openbsd rsync sqlite3 git tar gzip curl python3 perl"

throttle_need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "throttle: missing packages; run as root:" >&2
		echo "  apt-get install -y ${missing[*]}" >&2
		return 1
	fi
	echo "throttle: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || return 1
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || return 1
}

# throttle_setup DIR [meson options...]: configure DIR once, then build it.
throttle_setup() {
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" --werror "$@" >/dev/null || return 1
	fi
	meson compile -C "$dir" -j 2 >/dev/null || meson compile -C "$dir" -j 1
}

# throttle_need_programs: what the programs suite runs; nodejs only when no
# node is on PATH (one from elsewhere will do).
throttle_need_programs() {
	throttle_need_pkgs $THROTTLE_PROGRAM_PKGS || return 1
	command -v node >/dev/null || throttle_need_pkgs nodejs
}

# Fuzzing (tests/fuzz, run by tools/test): clang and libFuzzer's runtime.
THROTTLE_FUZZ_PKGS="clang-14 libclang-rt-14-dev"
