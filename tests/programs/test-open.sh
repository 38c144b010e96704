# test-open.sh - unmodified programs opening files in a gated folder ($DIR,
# open = "$DIR/**"), several at once, watched from /proc by holders.c: the
# files open there at once never exceed the limit, nor (under hold =
# process) the processes holding them, and every program's result is right.
# Programs that keep one file open at a time run under hold = descriptor
# (bash, python3, perl, node, cat, head, tar -x, sqlite3 reads). Those that
# keep several (gzip -k, cp, cp -r, tar -c, rsync, sqlite3 writes, git
# clone) complete under hold = process; under hold = descriptor with a
# limit one copy cannot meet, they are refused at once, with the shim's
# line, never left waiting.
#
# To be seen, a program must hold its files a while: it waits for the test
# ("release go") while holding, and the test lets it go once the witness
# has seen the limit reached, so a run without the shim fails on the
# witness at once. Programs that cannot be told to wait are stopped by what
# they read or write: a pipe read only after "go" (cat, head, tar -c), a
# FIFO in the folder standing for a slow file (cp, node), input given in
# two parts (tar -x, sqlite3), or a git smudge filter that waits. gzip and
# rsync, which none of these stop, hold their files for the time they work
# (8 MiB to compress; --bwlimit).
. "$(dirname "$0")/lib.sh"

GO=$TMP/go

# files NAME...: small files $DIR/NAME with their names as content.
files() {
	local f
	for f in "$@"; do echo "$f" >"$DIR/$f"; done
}

# Bash, python3, perl and node: each copy writes $DIR/o<i> and holds it
# until "go", then reads it back.
test_open_bash_redirect() {
	need bash
	open_pool 2
	guard holders max 2
	copies 4 b bash -c 'exec 3>"$1/o$2"; echo "line $2" >&3
		until [ -e "$3" ]; do sleep 0.01; done
		exec 3>&-; read -r l <"$1/o$2"; echo "$l"' bash "$DIR" %i "$GO"
	let_go_at holders max 2 4
	all_ok $(names b 4)
	said 'line %i' $(names b 4)
}

test_open_python() {
	need python3
	open_pool 2
	guard holders max 2
	copies 4 p python3 -c '
import os, sys, time
d, i, go = sys.argv[1:]
with open("%s/o%s" % (d, i), "w") as f:
    f.write("line %s\n" % i)
    while not os.path.exists(go):
        time.sleep(0.01)
print(open("%s/o%s" % (d, i)).read(), end="")' "$DIR" %i "$GO"
	let_go_at holders max 2 4
	all_ok $(names p 4)
	said 'line %i' $(names p 4)
}

test_open_perl() {
	need perl
	open_pool 2
	guard holders max 2
	copies 4 p perl -e '
my ($d, $i, $go) = @ARGV;
open(my $fh, ">", "$d/o$i") or die "$!";
print $fh "line $i\n";
select(undef, undef, undef, 0.01) until -e $go;
close $fh or die "$!";
open($fh, "<", "$d/o$i") or die "$!";
print <$fh>;' "$DIR" %i "$GO"
	let_go_at holders max 2 4
	all_ok $(names p 4)
	said 'line %i' $(names p 4)
}

# node reads five files in a row with readFileSync (libuv closes each with
# syscall(SYS_close)), then holds its own file until "go".
test_open_node_in_a_row() {
	need node
	files f1 f2 f3 f4 f5
	open_pool 2
	guard holders max 2
	copies 3 n node -e '
const fs = require("fs");
const [d, i, go] = process.argv.slice(1);
let all = "";
for (const f of ["f1", "f2", "f3", "f4", "f5"]) all += fs.readFileSync(`${d}/${f}`);
const fd = fs.openSync(`${d}/o${i}`, "w");
fs.writeSync(fd, all);
const nap = new Int32Array(new SharedArrayBuffer(4));
while (!fs.existsSync(go)) Atomics.wait(nap, 0, 0, 10);
fs.closeSync(fd);
process.stdout.write(fs.readFileSync(`${d}/o${i}`, "utf8").split("\n").join(" "));' \
		"$DIR" %i "$GO"
	let_go_at holders max 2 3
	all_ok $(names n 3)
	said 'f1 f2 f3 f4 f5 ' $(names n 3)
}

# node reads four files at once with fs.promises: three files and a FIFO
# that stands for a slow one. Four opens on libuv's four threads: each
# thread opens one file, and a process holding a slot always has a thread
# free to read and close it.
test_open_node_promises() {
	local i
	need node
	files f1 f2 f3
	for i in 1 2 3; do
		echo "slow $i" >"$TMP/slow$i"
		fifo_feed "$DIR/p$i" "$TMP/slow$i"
	done
	open_pool 2
	guard holders max 2
	copies 3 n env UV_THREADPOOL_SIZE=4 node -e '
const fsp = require("fs").promises;
const [d, i] = process.argv.slice(1);
Promise.all(["f1", "f2", "f3", `p${i}`].map(f => fsp.readFile(`${d}/${f}`, "utf8")))
  .then(all => process.stdout.write(all.join("").split("\n").join(" ")));' \
		"$DIR" %i
	let_go_at holders max 2 3
	all_ok $(names n 3)
	said 'f1 f2 f3 slow %i ' $(names n 3)
}

# node holds two files (openSync, on its main thread) of a pool of 2 and
# reads a third with fs.promises (a FIFO that stays empty): a libuv thread
# waits for a slot, which the main thread could still give back. Told to,
# node exits with process.exit(0), which joins libuv's threads: the
# waiting one must let go, as it would if it were reading.
test_open_node_exit_while_waiting() {
	need node
	files f1 f2
	echo late >"$TMP/late"
	fifo_feed "$DIR/f3" "$TMP/late"
	open_pool 2
	guard holders max 2
	start n node -e '
const fs = require("fs");
const [d, go] = process.argv.slice(1);
const held = [fs.openSync(`${d}/f1`), fs.openSync(`${d}/f2`)];
fs.promises.readFile(`${d}/f3`, "utf8").then(t => process.stdout.write(t));
const poll = setInterval(() => {
  if (!fs.existsSync(go)) return;
  console.log("exit");
  process.exit(0);
}, 10);' "$DIR" "$GO"
	let_go_at holders max 2 3
	done_by n 15
	[ "$STATUS" -eq 0 ] || fail "node exited $STATUS"
	expect_line n exit
	[ ! -s "$TMP/n.err" ] || fail "node: stderr: $(cat "$TMP/n.err")"
}

# cat and head, three at once, each of three files, the second larger than
# a pipe holds: each stops there, that file open, until its reader reads.
cat_like() {
	local i
	files f1 f3
	head -c 1048576 /dev/urandom >"$DIR/big"
	for i in 1 2 3; do stalled_output "c$i"; done
	open_pool 2
	guard holders max 2
	copies 3 c sh -c 'exec "$@" >"$0"' "$TMP/c%i.pipe" "$@" \
		"$DIR/f1" "$DIR/big" "$DIR/f3"
	let_go_at holders max 2 3
	all_ok $(names c 3)
	"$@" "$DIR/f1" "$DIR/big" "$DIR/f3" >"$TMP/expected"
	for i in 1 2 3; do
		cmp -s "$TMP/c$i.data" "$TMP/expected" || fail "c$i: wrong output"
	done
}

test_open_cat() {
	need cat
	cat_like cat
}

test_open_head() {
	need head
	cat_like head -c 200000
}

# gzip -k reads $DIR/g<i> and writes $DIR/g<i>.gz: two files at once.
random_file() {
	head -c "$2" /dev/urandom >"$1"
}

test_open_gzip_process() {
	local i
	need gzip
	for i in 1 2 3; do random_file "$DIR/g$i" 8M; done
	open_pool 2 "hold = process"
	guard holders maxprocs 2
	copies 3 g gzip -k "$DIR/g%i"
	all_ok $(names g 3)
	reached holders maxprocs 2
	reached holders most 2
	for i in 1 2 3; do
		gzip -dc "$DIR/g$i.gz" | cmp -s - "$DIR/g$i" ||
			fail "g$i.gz does not hold g$i"
	done
}

test_open_gzip_refused() {
	need gzip
	random_file "$DIR/g" 8M
	open_pool 1
	guard holders max 1
	start g gzip -k "$DIR/g"
	refused_fast g gzip open 1
	grep -q "^gzip: $DIR/g.gz: Too many open files in system" "$TMP/g.err" ||
		fail "gzip did not say why: $(cat "$TMP/g.err")"
	[ ! -e "$DIR/g.gz" ] || fail "gzip left $DIR/g.gz"
	nothing_left open "$DIR/free" 1
}

# cp a b: a is a FIFO in the folder, a file that comes slowly; cp holds it
# and b until the data has come.
test_open_cp_process() {
	local i
	need cp
	for i in 1 2 3; do
		echo "data $i" >"$TMP/data$i"
		fifo_feed "$DIR/a$i" "$TMP/data$i"
	done
	open_pool 2 "hold = process"
	guard holders maxprocs 2
	copies 3 c cp "$DIR/a%i" "$DIR/b%i"
	let_go_at holders maxprocs 2 3
	all_ok $(names c 3)
	reached holders most 2
	for i in 1 2 3; do
		cmp -s "$DIR/b$i" "$TMP/data$i" || fail "b$i is not a copy of a$i"
	done
}

test_open_cp_refused() {
	need cp
	echo data >"$TMP/data"
	fifo_feed "$DIR/a" "$TMP/data"
	open_pool 1
	guard holders max 1
	start c cp "$DIR/a" "$DIR/b"
	refused_fast c cp open 1
	grep -q "^cp: cannot create regular file '$DIR/b': Too many open files in system" \
		"$TMP/c.err" || fail "cp did not say why: $(cat "$TMP/c.err")"
	[ ! -e "$DIR/b" ] || fail "cp left $DIR/b"
	nothing_left open "$DIR/free" 1
}

# cp -r of a five-level tree whose bottom holds a FIFO (cp --copy-contents
# copies what it reads from it); folders take no slot (cp opens them with
# O_DIRECTORY).
cp_tree() {
	tree "$DIR/src$1"
	echo "slow $1" >"$TMP/slow$1"
	fifo_feed "$DIR/src$1/l1/l2/l3/l4/l5/p" "$TMP/slow$1"
}

test_open_cp_r_process() {
	local i
	need cp
	for i in 1 2 3; do cp_tree "$i"; done
	open_pool 2 "hold = process"
	guard holders maxprocs 2
	copies 3 c cp -r --copy-contents "$DIR/src%i" "$DIR/dst%i"
	let_go_at holders maxprocs 2 3
	all_ok $(names c 3)
	reached holders most 2
	for i in 1 2 3; do
		diff -r --exclude=p "$DIR/src$i" "$DIR/dst$i" >/dev/null ||
			fail "dst$i differs from src$i"
		cmp -s "$DIR/dst$i/l1/l2/l3/l4/l5/p" "$TMP/slow$i" ||
			fail "dst$i: the FIFO's data was not copied"
	done
}

test_open_cp_r_refused() {
	need cp
	cp_tree 1
	open_pool 1
	guard holders max 1
	start c cp -r --copy-contents "$DIR/src1" "$DIR/dst1"
	refused_fast c cp open 1
	nothing_left open "$DIR/free" 1
}

# tar -c of a five-level tree to a pipe that is read only after "go": tar
# stops inside the 1 MiB file at the bottom, every folder above it open
# (tar opens folders without O_DIRECTORY, so they count as files: 7 open).
test_open_tar_c_process() {
	local i
	need tar
	for i in 1 2 3; do
		tree "$DIR/src$i"
		stalled_output "t$i"
	done
	open_pool 2 "hold = process"
	guard holders maxprocs 2
	copies 3 t sh -c 'exec tar -cf - -C "$1" "src$2" >"$3"' sh "$DIR" %i \
		"$TMP/t%i.pipe"
	let_go_at holders maxprocs 2 3
	all_ok $(names t 3)
	reached holders most 7
	for i in 1 2 3; do
		mkdir "$TMP/x$i"
		tar -xf "$TMP/t$i.data" -C "$TMP/x$i" ||
			fail "t$i: the archive does not extract"
		same_tree "$DIR/src$i" "$TMP/x$i/src$i"
	done
}

# The same tar with hold = descriptor and a limit of 3: at the third level
# it holds 3 folders and asks for another.
test_open_tar_c_refused() {
	need tar
	tree "$DIR/src"
	stalled_output t
	open_pool 3
	guard holders max 3
	start t sh -c 'exec tar -cf - -C "$1" src >"$2"' sh "$DIR" "$TMP/t.pipe"
	refused_fast t tar open 3
	grep -q "^tar: src/l1/l2/l3: Cannot open: Too many open files in system" \
		"$TMP/t.err" || fail "tar did not say why: $(cat "$TMP/t.err")"
	nothing_left open "$DIR/free" 3
}

# tar_x_input: $TMP/a.tar, of the tree $TMP/in/src with a file of 1 MiB
# first, in two parts, a.1 and a.2, the break inside that file.
tar_x_input() {
	local size=$((1024 + 524288))
	tree "$TMP/in/src"
	head -c 1048576 /dev/urandom >"$TMP/in/src/0big"
	tar --sort=name -cf "$TMP/a.tar" -C "$TMP/in" src
	head -c "$size" "$TMP/a.tar" >"$TMP/a.1"
	tail -c +"$((size + 1))" "$TMP/a.tar" >"$TMP/a.2"
}

# tar -x of an archive that comes in two parts: tar holds its first file
# open until the rest comes. The folder given with -C, which tar keeps
# open (O_DIRECTORY), takes no slot.
test_open_tar_x() {
	local i
	need tar
	tar_x_input
	for i in 1 2 3; do
		mkdir -p "$DIR/x$i"
		stalled_input "t$i" "$TMP/a.1" "$TMP/a.2"
	done
	open_pool 2
	guard holders max 2
	copies 3 t sh -c 'exec tar -xf - -C "$1" <"$2"' sh "$DIR/x%i" \
		"$TMP/t%i.pipe"
	let_go_at holders max 2 3
	all_ok $(names t 3)
	for i in 1 2 3; do same_tree "$TMP/in/src" "$DIR/x$i/src"; done
}

# The same tar -x with folders = yes and a limit of 1: the -C folder takes
# the slot, and the first file is refused at once (tar goes on, reading
# the rest of the archive, and ends in failure).
test_open_tar_x_folders_refused() {
	need tar
	tar_x_input
	mkdir -p "$DIR/x"
	stalled_input t "$TMP/a.1" "$TMP/a.2"
	open_pool 1 "folders = yes"
	guard holders max 1
	start t sh -c 'exec tar -xf - -C "$1" <"$2"' sh "$DIR/x" "$TMP/t.pipe"
	refused_at_once t tar open 1
	release go
	done_by t
	[ "$STATUS" -ne 0 ] || fail "tar exited 0"
	grep -q "^tar: src/0big: Cannot open: Too many open files in system" \
		"$TMP/t.err" || fail "tar did not say why: $(cat "$TMP/t.err")"
	nothing_left open "$DIR/free" 1
}

# rsync -a within the folder, two at once: each is a sender and a receiver
# process that both hold a file while the 1 MiB one goes across (at 2
# MiB/s), and wait for each other through a pipe, so a limit of 3
# processes always leaves one rsync both of its own.
test_open_rsync_process() {
	local i
	need rsync
	for i in 1 2; do tree "$DIR/src$i"; done
	open_pool 3 "hold = process"
	guard holders maxprocs 3
	copies 2 r rsync -a --bwlimit=2048 "$DIR/src%i/" "$DIR/dst%i/"
	all_ok $(names r 2)
	reached holders maxprocs 3
	for i in 1 2; do same_tree "$DIR/src$i" "$DIR/dst$i"; done
}

# sqlite3: a database in the folder; its input comes in two parts.
sqlite_db() {
	sqlite3 "$DIR/db" 'CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);' ||
		fail "no database"
}

# sqlite_input NAME FIRST REST: NAME's input, in two parts given as text.
sqlite_input() {
	printf '%s\n' "$2" >"$TMP/$1.1"
	printf '%s\n' "$3" >"$TMP/$1.2"
	stalled_input "$1" "$TMP/$1.1" "$TMP/$1.2"
}

# Four readers at once, each in a transaction until "go".
test_open_sqlite_readers() {
	local i
	need sqlite3
	sqlite_db
	for i in 1 2 3 4; do
		sqlite_input "s$i" 'BEGIN; SELECT sum(x) FROM t;' 'COMMIT;'
	done
	open_pool 2
	guard holders max 2
	copies 4 s sh -c 'exec sqlite3 "$1" <"$2"' sh "$DIR/db" "$TMP/s%i.pipe"
	let_go_at holders max 2 4
	all_ok $(names s 4)
	said 3 $(names s 4)
}

# Two writers at once on one database, each writing two rows in one
# transaction (database and journal open) with a busy timeout; a pool of
# one process: the second waits for the first to be done.
test_open_sqlite_writers() {
	local sum
	need sqlite3
	sqlite_db
	sqlite_input w1 $'.timeout 10000\nBEGIN; INSERT INTO t VALUES (10);\nSELECT \'in\';' \
		'INSERT INTO t VALUES (20); COMMIT;'
	sqlite_input w2 $'.timeout 10000\nBEGIN; INSERT INTO t VALUES (30);\nSELECT \'in\';' \
		'INSERT INTO t VALUES (40); COMMIT;'
	open_pool 1 "hold = process"
	guard holders maxprocs 1
	start w1 sh -c 'exec sqlite3 "$1" <"$2"' sh "$DIR/db" "$TMP/w1.pipe"
	wait_line w1 in
	start w2 sh -c 'exec sqlite3 "$1" <"$2"' sh "$DIR/db" "$TMP/w2.pipe"
	reached holders most 2
	let_go_at holders maxprocs 1 2
	all_ok w1 w2
	said in w1 w2
	sum=$(sqlite3 "$DIR/db" 'SELECT count(*), sum(x) FROM t;')
	[ "$sum" = '6|103' ] || fail "the table holds '$sum', expected 6 rows, 103"
}

# One writer, hold = descriptor and a limit of 1: the journal is refused
# (sqlite3 -bail stops there), the database is left as it was.
test_open_sqlite_writer_refused() {
	local sum
	need sqlite3
	sqlite_db
	sqlite_input w 'BEGIN; INSERT INTO t VALUES (10); SELECT 1;' 'COMMIT;'
	open_pool 1
	guard holders max 1
	start w sh -c 'exec sqlite3 -bail "$1" <"$2"' sh "$DIR/db" "$TMP/w.pipe"
	refused_fast w sqlite3 open 1
	nothing_left open "$DIR/free" 1
	sum=$(sqlite3 "$DIR/db" 'SELECT count(*), sum(x) FROM t;')
	[ "$sum" = '2|3' ] || fail "the table holds '$sum', expected 2 rows, 3"
}

# git_repo: a repository in the folder, a tree and a file whose checkout
# goes through the "stall" filter, which waits for "go".
git_repo() {
	local r=$DIR/repo
	git init -q "$r" && tree "$r" && echo slow >"$r/stalled" &&
		echo 'stalled filter=stall' >"$r/.gitattributes" &&
		git -C "$r" add -A &&
		git -C "$r" -c user.name=t -c user.email=t@localhost commit -qm tree ||
		fail "no repository"
	STALL_FILTER="filter.stall.smudge=sh -c \"$STALL; cat\""
}

# git clone out of the folder into it, three at once.
test_open_git_clone_process() {
	local i
	need git
	git_repo
	open_pool 2 "hold = process"
	guard holders maxprocs 2
	copies 3 g git -c "$STALL_FILTER" clone -q "$DIR/repo" "$DIR/c%i"
	let_go_at holders maxprocs 2 3
	all_ok $(names g 3)
	for i in 1 2 3; do
		diff -r --exclude=.git "$DIR/repo" "$DIR/c$i" >/dev/null ||
			fail "c$i differs from the repository"
	done
}

# With hold = descriptor and a limit of 1: git holds a lock file and opens
# the file it replaces, and is refused at once. (Nothing stops git while it
# holds two files, so the witness may not see them: the control run fails
# on the witness or for want of a refusal.)
test_open_git_clone_refused() {
	need git
	git_repo
	open_pool 1
	guard holders max 1
	start g git clone -q "$DIR/repo" "$DIR/c"
	refused_fast g git open 1
	nothing_left open "$DIR/free" 1
}

run_case "$@"
