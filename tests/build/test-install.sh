#!/usr/bin/env bash
# test-install.sh - `meson install` into a temporary DESTDIR puts every file
# issue 19 lists where it belongs; the installed throttle runs a real program
# under the installed library and the installed example config, witnessed by
# the installed throttlectl; the installed C example compiles against the
# installed header and throttle.pc and runs on the installed library. No
# network.
# Usage: test-install.sh BUILDDIR
set -u
build=$(realpath "$1")
# In the build folder, not /tmp, which may be mounted noexec.
tmp=$(mktemp -d "$build/test-install.XXXXXX")
dest=$tmp/dest
pool=inst$$db other=inst$$up example=inst$$ex
trap 'rm -rf "$tmp" /dev/shm/throttle.$pool /dev/shm/throttle.$other /dev/shm/throttle.$example' EXIT
unset LD_PRELOAD THROTTLE_CONFIG THROTTLE_SERVICE THROTTLE_QUIET

fail() {
	echo "FAIL: $*"
	exit 1
}

exists() { # WHAT PATH
	[ -f "$2" ] || fail "$1 not installed: no $2"
}

meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$tmp/log" 2>&1 ||
	fail "meson install: $(cat "$tmp/log")"

# The folders, as this build was configured (libdir and the others are
# relative to the prefix unless given absolute).
eval "$(meson introspect "$build" --buildoptions | python3 -c '
import json, os, shlex, sys
opts = {o["name"]: o["value"] for o in json.load(sys.stdin)}
for name in ("prefix", "bindir", "libdir", "includedir", "datadir", "mandir"):
    value = opts[name] if name == "prefix" else os.path.join(opts["prefix"], opts[name])
    print("%s=%s" % (name, shlex.quote(value)))
')" || fail "meson introspect"
root=$dest$prefix

exists "the library" "$dest$libdir/libthrottle.so"
exists "throttle" "$dest$bindir/throttle"
exists "throttlectl" "$dest$bindir/throttlectl"
exists "the C header" "$dest$includedir/throttle.h"
exists "throttle.pc" "$dest$libdir/pkgconfig/throttle.pc"
examples=$dest$datadir/doc/libthrottle/examples
exists "the example config" "$examples/throttle.conf.example"
exists "the systemd drop-in" "$examples/systemd-dropin.conf"
exists "the C example" "$examples/pool-example.c"
exists "throttle's bash completion" "$dest$datadir/bash-completion/completions/throttle"
exists "throttlectl's bash completion" "$dest$datadir/bash-completion/completions/throttlectl"
for page in man1/throttle.1 man3/throttle.3 man5/throttle.conf.5 \
	man7/libthrottle.7 man8/throttlectl.8; do
	exists "man page $page" "$dest$mandir/$page"
done
python=$(find "$root" -path '*/python3*/*-packages/throttle.py' | head -n 1)
[ -n "$python" ] || fail "the Python module not installed: no python3*/*-packages/throttle.py under $root"
python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' "$python" ||
	fail "the installed $python does not parse"
grep -qF "$libdir" "$python" || fail "the Python module does not name the installed library's folder $libdir"

# The drop-in preloads the library where it is installed, for the unit's
# own service name.
grep -qx "Environment=LD_PRELOAD=$libdir/libthrottle.so" "$examples/systemd-dropin.conf" ||
	fail "drop-in: $(cat "$examples/systemd-dropin.conf")"
grep -qx "Environment=THROTTLE_SERVICE=%N" "$examples/systemd-dropin.conf" ||
	fail "drop-in has no THROTTLE_SERVICE=%N"
grep -qx "\[Service\]" "$examples/systemd-dropin.conf" || fail "drop-in has no [Service]"

# ---- the installed throttle, its installed library, the example config ----
# The example's pools get names of this test's own, and its paths and
# include a folder of ours.
mkdir -p "$tmp/data" "$tmp/pools.d"
printf 'one\n' >"$tmp/data/f1"
printf 'two\n' >"$tmp/data/f2"
sed -e "s|^pool postgres {|pool $pool {|" -e "s|^pool uploads {|pool $other {|" \
	-e "s|\"/srv/data/\*\"|\"$tmp/data/*\"|" \
	-e "s|/etc/throttle/pools.d/|$tmp/pools.d/|" \
	"$examples/throttle.conf.example" >"$tmp/example.conf"
grep -q "pool $pool {" "$tmp/example.conf" && grep -q "$tmp/data/\*" "$tmp/example.conf" ||
	fail "the example config changed shape: adapt this test"
out=$("$dest$bindir/throttle" -c "$tmp/example.conf" -- sh -c 'echo "$LD_PRELOAD"' 2>&1) ||
	fail "installed throttle: $out"
[ "$out" = "$(realpath "$dest$libdir/libthrottle.so")" ] ||
	fail "the installed throttle preloads '$out', not the installed library"
out=$("$dest$bindir/throttle" -c "$tmp/example.conf" -- cat "$tmp/data/f1" "$tmp/data/f2" 2>&1) ||
	fail "throttle cat: $out"
[ "$out" = $'one\ntwo' ] || fail "throttle cat printed: $out"
json=$("$dest$bindir/throttlectl" status --json "$pool") || fail "installed throttlectl status: $json"
python3 - "$json" "$pool" <<'PY' || fail "the pool was not used: $json"
import json, sys
pools = json.loads(sys.argv[1])["pools"]
p = [p for p in pools if p["name"] == sys.argv[2]][0]
sys.exit(0 if p["granted"] == 2 and p["limit"] == 20 and p["in_use"] == 0 else 1)
PY

# ---- the C example, against the installed header and throttle.pc ----
export PKG_CONFIG_PATH=$dest$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
flags=$(pkg-config --cflags --libs throttle) || fail "pkg-config throttle"
[[ "$flags" == *"-L$dest$libdir"* ]] || fail "pkg-config flags do not point into DESTDIR: $flags"
cc -o "$tmp/pool-example" "$examples/pool-example.c" $flags 2>"$tmp/cc" ||
	fail "compiling the example: $(cat "$tmp/cc")"
export LD_LIBRARY_PATH=$dest$libdir
ldd "$tmp/pool-example" | grep -q "libthrottle.so => $dest$libdir/libthrottle.so" ||
	fail "the example does not load the installed library: $(ldd "$tmp/pool-example")"
out=$("$tmp/pool-example" "$example" 2 "$tmp/data/f1" 2>&1) || fail "pool-example: $out"
[[ "$out" == *"$example"* ]] || fail "pool-example does not name its pool: $out"
json=$("$dest$bindir/throttlectl" status --json "$example") || fail "status of the example's pool: $json"
python3 - "$json" <<'PY' || fail "the example's pool: $json"
import json, sys
p = json.loads(sys.argv[1])["pools"][0]
sys.exit(0 if p["limit"] == 2 and p["granted"] == 1 and p["in_use"] == 0 else 1)
PY
echo "PASS"
