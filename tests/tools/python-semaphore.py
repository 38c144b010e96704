"""python-semaphore.py - the Python module throttle.Semaphore checked from
outside: separate python processes sharing pools by name, watched through a
pipe they write "enter"/"leave" to and through `throttlectl status --json`,
never through the module's own counters. Run by test-python.sh with the
module on PYTHONPATH and THROTTLE_LIBRARY set; it must leave no pool behind.

Usage: python-semaphore.py check THROTTLECTL
       (and, for its own children: worker, hold, interrupt)
"""

import json
import multiprocessing
import os
import random
import select
import signal
import subprocess
import sys
import time

import throttle

LIMIT = 2
WORKERS = 10
SCRIPT = os.path.abspath(__file__)


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def expect(condition, message):
    if not condition:
        fail(message)


# ---- the children: each a python process of its own ----

def worker(pool, hold, fd):
    """One process of the seed's example: holds a slot of POOL for HOLD
    seconds, saying so on descriptor FD while it holds it."""
    out = int(fd)
    with throttle.Semaphore(pool, LIMIT):
        os.write(out, b"enter %d %d\n" % (os.getpid(), time.monotonic_ns()))
        time.sleep(float(hold))
        os.write(out, b"leave %d %d\n" % (os.getpid(), time.monotonic_ns()))


def hold(pool):
    """Holds the only slot of POOL until stdin closes, then releases it."""
    sem = throttle.Semaphore(pool, 1)
    expect(sem.acquire(), "hold: acquire failed")
    print("held", flush=True)
    sys.stdin.read()
    sem.release()


def interrupt(pool):
    """Waits on POOL; a SIGUSR1 handler that returns must not end the wait,
    a SIGINT must end it with KeyboardInterrupt. Then waits for stdin to
    close, so that the test can look at what it holds meanwhile."""
    # A shell may have started the test with SIGINT ignored, which python
    # would keep.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGUSR1, lambda *_: print("usr1", flush=True))
    sem = throttle.Semaphore(pool, 1)
    print("waiting", flush=True)
    try:
        got = sem.acquire()
        print("acquired %s" % got, flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    sys.stdin.read()


# ---- the test ----

class Test:
    def __init__(self, ctl):
        self.ctl = ctl
        self.pools = []
        self.children = []

    def pool(self, what):
        name = "tpy-%d-%s" % (os.getpid(), what)
        self.pools.append(name)
        return name

    def spawn(self, *args, **kwargs):
        child = subprocess.Popen([sys.executable, SCRIPT] + list(args),
                                 start_new_session=True, **kwargs)
        self.children.append(child)
        return child

    def cleanup(self):
        for child in self.children:
            if child.poll() is None:
                child.kill()
                child.wait()
        for name in self.pools:
            try:
                os.unlink("/dev/shm/throttle." + name)
            except FileNotFoundError:
                pass

    def status(self, pool):
        """The pool as throttlectl sees it: its JSON object."""
        out = subprocess.run([self.ctl, "status", "--json", pool],
                             stdout=subprocess.PIPE, check=True).stdout
        pools = json.loads(out)["pools"]
        expect(len(pools) == 1, "status %s: %s" % (pool, out))
        return pools[0]

    def pids(self, pool, kind):
        return [h["pid"] for h in self.status(pool)[kind]]

    def until(self, what, condition, seconds=10):
        deadline = time.monotonic() + seconds
        while not condition():
            expect(time.monotonic() < deadline, "never: " + what)
            time.sleep(0.02)

    def expect_empty(self, pool, why):
        now = self.status(pool)
        expect(now["in_use"] == 0 and now["dead_in_use"] == 0
               and now["waiting"] == 0 and now["holders"] == [],
               "%s: the pool is not empty: %s" % (why, json.dumps(now)))


def read_line(stream, seconds):
    """The next line a child prints, or fails after SECONDS."""
    ready, _, _ = select.select([stream], [], [], seconds)
    expect(ready, "no line from a child within %gs" % seconds)
    return stream.readline().strip()


class Witness:
    """Reads the workers' pipe and counts holders in the order they wrote:
    "enter" is written after acquire returned, "leave" before release, so
    the count never exceeds the true number of holders."""

    def __init__(self, fd):
        self.fd, self.buffer = fd, b""
        self.holders, self.most, self.left = set(), 0, 0
        self.after_kill, self.killed_at, self.two_after_kill = None, None, False

    def next_event(self, seconds):
        """Counts the next line; returns (kind, pid), or None at the end."""
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.fd], [], [], seconds)
            expect(ready, "no worker said anything for %gs" % seconds)
            data = os.read(self.fd, 4096)
            if not data:
                expect(not self.buffer, "a torn line: %r" % self.buffer)
                return None
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        kind, pid, stamp = line.decode().split()
        pid, stamp = int(pid), int(stamp)
        if kind == "enter":
            self.holders.add(pid)
            self.most = max(self.most, len(self.holders))
            expect(len(self.holders) <= LIMIT,
                   "the witness saw %s hold at once" % sorted(self.holders))
            if self.killed_at and stamp > self.killed_at and len(self.holders) == LIMIT:
                self.two_after_kill = True
        else:
            self.holders.discard(pid)
            self.left += 1
        return kind, pid

    def killed(self, pid):
        """PID died holding: from now it holds nothing."""
        self.holders.discard(pid)
        self.killed_at = time.monotonic_ns()


def seed_example(t):
    """multiprocessing.Semaphore's example across unrelated processes: 10
    processes, limit 2, random holds; one SIGKILLed while holding."""
    pool = t.pool("seed")
    seed = random.randrange(1 << 30)
    holds = random.Random(seed).choices([0.1, 0.2, 0.3, 0.4, 0.5], k=WORKERS - 1)
    print("seed example: holds %s (seed %d)" % (holds, seed), flush=True)
    rfd, wfd = os.pipe()
    victim = t.spawn("worker", pool, "60", str(wfd), pass_fds=[wfd])
    others = []
    witness = Witness(rfd)
    expect(witness.next_event(10) == ("enter", victim.pid), "the victim did not enter first")
    for seconds in holds:
        others.append(t.spawn("worker", pool, str(seconds), str(wfd), pass_fds=[wfd]))
    os.close(wfd)
    # Once a second process holds, the other eight queue behind it and the victim.
    while witness.most < LIMIT:
        witness.next_event(10)
    time.sleep(0.3)
    victim.kill()
    victim.wait()
    witness.killed(victim.pid)
    while witness.left < WORKERS - 1:
        expect(witness.next_event(15), "the pipe closed before every worker left")
    os.close(rfd)
    for child in others:
        expect(child.wait(10) == 0, "worker %d exited %s" % (child.pid, child.returncode))
    expect(witness.most == LIMIT, "the witness never saw %d at once" % LIMIT)
    expect(witness.two_after_kill,
           "after the kill, 2 never held at once: the dead one's slot leaked")
    t.expect_empty(pool, "after the seed example")


def refusals(t):
    """A full pool: acquire(timeout=0.2), acquire(False), and release
    without acquire. Returns the holder, still holding, and the pool."""
    pool = t.pool("full")
    holder = t.spawn("hold", pool, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    expect(read_line(holder.stdout, 10) == "held", "the holder did not hold")
    sem = throttle.Semaphore(pool, 1)
    # A wait that never ends fails the test rather than hang it.
    signal.signal(signal.SIGALRM, lambda *_: fail("an acquire still waits after 8s"))
    signal.setitimer(signal.ITIMER_REAL, 8)
    start = time.monotonic()
    got = sem.acquire(timeout=0.2)
    took = time.monotonic() - start
    expect(got is False, "acquire(timeout=0.2) on a full pool gave %r" % got)
    expect(0.19 <= took < 0.7, "acquire(timeout=0.2) took %.3fs" % took)
    start = time.monotonic()
    expect(sem.acquire(False) is False, "acquire(False) on a full pool did not give False")
    expect(sem.acquire(block=False, timeout=5) is False, "acquire(block=False) did not give False")
    expect(sem.acquire(timeout=0) is False, "acquire(timeout=0) did not give False")
    took = time.monotonic() - start
    signal.setitimer(signal.ITIMER_REAL, 0)
    expect(took < 0.5, "non-blocking acquires waited %.3fs" % took)
    try:
        sem.release()
        fail("release without acquire did not raise")
    except ValueError:
        pass
    expect(t.pids(pool, "holders") == [holder.pid], "a refusal changed the holders")
    return holder, pool


def context_manager(t):
    """`with` holds a slot, and gives it back when the body raises."""
    pool = t.pool("with")
    sem = throttle.Semaphore(pool, 1)
    try:
        with sem:
            expect(t.pids(pool, "holders") == [os.getpid()], "with: no slot held inside")
            raise ArithmeticError("out of the block")
    except ArithmeticError:
        pass
    t.expect_empty(pool, "after an exception in with")
    try:
        sem.release()
        fail("a second release did not raise")
    except ValueError:
        pass


def take_one(sem, out):
    """In a spawned child: takes and gives back a slot of the pickled SEM."""
    out.send(sem.acquire(False) and sem.in_use)
    sem.release()


def info_and_limits(t):
    """info() and set_limit() agree with throttlectl; bad names and limits
    are ValueError; a semaphore pickled to a spawned process works there."""
    pool = t.pool("limit")
    sem = throttle.Semaphore(pool, 1)
    expect(sem.acquire(False), "an empty pool refused")
    sem.set_limit(3)
    now = t.status(pool)
    expect(now["limit"] == 3, "set_limit(3): throttlectl says %s" % json.dumps(now))
    expect(sem.acquire(False), "set_limit(3) let nobody in")
    info = sem.info()
    expect((info.limit, info.in_use, sem.limit, sem.in_use, sem.waiting, sem.get_value())
           == (3, 2, 3, 2, 0, 1) == (now["limit"], now["in_use"] + 1, 3, 2, 0, 1),
           "info %s, throttlectl %s" % (info, json.dumps(now)))
    context = multiprocessing.get_context("spawn")
    mine, theirs = context.Pipe()
    child = context.Process(target=take_one, args=(sem, theirs))
    child.start()
    expect(mine.poll(10) and mine.recv() == 3, "a spawned process could not take the last slot")
    child.join(10)
    expect(child.exitcode == 0, "the spawned process exited %s" % child.exitcode)
    for bad in (lambda: sem.set_limit(0), lambda: sem.set_limit(1025),
                lambda: throttle.Semaphore("no/slash"), lambda: throttle.Semaphore(pool, 0)):
        try:
            bad()
            fail("no ValueError")
        except ValueError:
            pass
    sem.release()
    sem.release()
    sem.close()
    sem.close()
    t.expect_empty(pool, "after info_and_limits")
    # Where multiprocessing would hang: a lone thread waits for itself.
    probe = ("import errno, throttle\n"
             "s = throttle.Semaphore(%r, 1)\n"
             "s.acquire()\n"
             "try:\n"
             "    s.acquire()\n"
             "except OSError as e:\n"
             "    print(e.errno == errno.EDEADLK)\n") % t.pool("alone")
    out = subprocess.run([sys.executable, "-c", probe], stdout=subprocess.PIPE, text=True,
                         cwd="/", timeout=10).stdout
    expect(out == "True\n", "a second acquire by the only thread holding: %r" % out)


def ctrl_c(t, holder, pool):
    """A process waiting on POOL (full, HOLDER holds it): SIGUSR1 with a
    handler that returns keeps it waiting; SIGINT ends the wait at once with
    KeyboardInterrupt, and it then holds nothing when HOLDER lets go."""
    waiter = t.spawn("interrupt", pool, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    expect(read_line(waiter.stdout, 10) == "waiting", "the waiter did not start")
    t.until("the waiter queued", lambda: waiter.pid in t.pids(pool, "waiters"))
    waiter.send_signal(signal.SIGUSR1)
    expect(read_line(waiter.stdout, 2) == "usr1", "SIGUSR1's handler did not run")
    t.until("the waiter queued again", lambda: waiter.pid in t.pids(pool, "waiters"))
    sent = time.monotonic()
    waiter.send_signal(signal.SIGINT)
    line = read_line(waiter.stdout, 3)
    took = time.monotonic() - sent
    expect(line == "interrupted", "after SIGINT the waiter said %r" % line)
    expect(took < 1.0, "KeyboardInterrupt came %.2fs after SIGINT" % took)
    now = t.status(pool)
    expect(waiter.pid not in [w["pid"] for w in now["waiters"] + now["holders"]],
           "the interrupted waiter still waits or holds: %s" % json.dumps(now))
    holder.stdin.close()
    expect(holder.wait(5) == 0, "the holder failed")
    sem = throttle.Semaphore(pool, 1)
    expect(sem.acquire(False), "the pool stayed full after its holder left")
    expect(t.pids(pool, "holders") == [os.getpid()], "someone else holds the slot")
    sem.release()
    waiter.stdin.close()
    expect(waiter.wait(5) == 0, "the interrupted waiter failed")


def check_library_lookup(t):
    """Under LD_PRELOAD the module takes the preloaded library rather than
    mapping a second copy; a bad THROTTLE_LIBRARY is named in the error."""
    library = os.environ["THROTTLE_LIBRARY"]
    env = dict(os.environ, LD_PRELOAD=library)
    del env["THROTTLE_LIBRARY"]
    probe = ("import throttle\n"
             "s = throttle.Semaphore(%r, 1)\n"
             "assert s.acquire(False)\n"
             "s.release()\n"
             "maps = {l.split()[-1] for l in open('/proc/self/maps') if 'libthrottle' in l}\n"
             "print(throttle.library_path(), len(maps))\n") % t.pool("preload")
    # From / so that no throttle.py in the current folder comes first.
    out = subprocess.run([sys.executable, "-c", probe], env=env, stdout=subprocess.PIPE,
                         text=True, cwd="/").stdout
    expect(out == "(preloaded) 1\n", "under LD_PRELOAD: %r" % out)
    env = dict(os.environ, THROTTLE_LIBRARY="/nonexistent/libthrottle.so")
    run = subprocess.run([sys.executable, "-c", "import throttle; throttle.Semaphore('x')"],
                         env=env, stderr=subprocess.PIPE, text=True, cwd="/")
    expect(run.returncode != 0 and "THROTTLE_LIBRARY=/nonexistent/libthrottle.so" in run.stderr,
           "a bad THROTTLE_LIBRARY: %s" % run.stderr)


def check(ctl):
    t = Test(ctl)
    try:
        print("python %s, libthrottle %s from %s" % (
            sys.version.split()[0], throttle.version(), throttle.library_path()), flush=True)
        seed_example(t)
        holder, pool = refusals(t)
        context_manager(t)
        info_and_limits(t)
        ctrl_c(t, holder, pool)
        check_library_lookup(t)
    finally:
        t.cleanup()
    print("ok")


if __name__ == "__main__":
    {"check": check, "worker": worker, "hold": hold,
     "interrupt": interrupt}[sys.argv[1]](*sys.argv[2:])
