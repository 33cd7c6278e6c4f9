"""Disk full: veilled runs as a daemon with its database on a small tmpfs of its own (a private
mount namespace), polling eight growing feeds every second or two. The test fills the tmpfs while
new items keep coming: the daemon must log the failure once, keep running, never store a feed's
new ETag (or item counter) without its items (a 304 would lose them for good), and once space
returns store every item it missed, saying once that the database is writable again."""

import errno
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import time

import harness as h
import outage
from newsfeeds import NewsFeeds

NFEEDS = 8
TMPFS = "4m"


def fill(path):
    """Writes zeros to path until the filesystem is full; returns the bytes written."""
    n = 0
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                n += f.write(chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if len(chunk) == 1:
                    return n
                chunk = chunk[:len(chunk) // 16] or b"\0"
    return n


def refetched(server):
    """Paths served whole twice in a row with the same size: the daemon fetched a document again
    because storing it failed (after a stored document, the next answer is a 304)."""
    last, out = {}, set()
    for r in server.requests():
        if len(r) < 4 or r[0] != "GET":
            continue
        if r[2] == "200" and last.get(r[1]) == ("200", r[3]):
            out.add(r[1])
        last[r[1]] = (r[2], r[3])
    return out


def outages(d):
    """The daemon's database outages and recoveries so far, in order: F for a write that failed
    (logged when the database starts failing), W for "writable again"."""
    return "".join("W" if "writable again" in l else "F" for l in d.lines()
                   if "database" in l and ("failed:" in l or "writable again" in l))


def main():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        h.skip("needs root and unshare to mount a tmpfs in a private mount namespace")
    if not os.environ.get("VEILLE_TEST_MOUNT_NS"):
        # The whole test runs in a mount namespace of its own, so its tmpfs is seen by the test
        # and the daemon alike (SQLite resolves /proc/PID/root to the host's path).
        os.environ["VEILLE_TEST_MOUNT_NS"] = "1"
        os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable,
                              os.path.abspath(__file__)])
    t0 = time.monotonic()
    with h.TempDir() as tmp:
        os.mkdir(os.path.join(tmp, "feeds"))
        feeds = NewsFeeds(os.path.join(tmp, "feeds"), NFEEDS, random.Random(7), prefix="full")
        feeds.grow_all(4)
        server = h.FeedServer(feeds.root, tmp)
        dbdir = os.path.join(tmp, "db")
        os.mkdir(dbdir)
        conf = os.path.join(tmp, "veille.conf")
        entries = feeds.entries(server.base)
        names = [name for name, _ in entries]
        h.write_config(conf, os.path.join(dbdir, "veille.db"), entries,
                       extra="alerts = none\ninterval = 2s\nmin_interval = 1s\nmax_interval = 4s\n")
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS}", "tmpfs", dbdir], check=True)
        d = outage.Daemon([h.VEILLED, "-c", conf], os.path.join(tmp, "veilled.log"))
        try:
            db = os.path.join(dbdir, "veille.db")
            filler = os.path.join(dbdir, "filler")
            h.check(h.wait_for(lambda: outage.all_stored(db, feeds), 20), "first items stored")
            problems = []

            # Fill the disk while the feeds keep growing, until a transaction fails.
            written = fill(filler)
            print(f"tmpfs filled with {written} bytes")
            failed = lambda: d.count("storing items failed") + d.count("saving a feed's state failed") > 0
            rng = random.Random(11)
            end = time.monotonic() + 30
            while not (failed() and refetched(server)) and time.monotonic() < end:
                for f in rng.sample(range(NFEEDS), 3):
                    feeds.grow(f, 6)
                outage.watch(db, feeds, names, 1.0, problems)
                fill(filler + "2")  # whatever SQLite freed meanwhile
            h.check(failed(), "a write failed once the disk was full: " +
                    next((l for l in d.lines() if "failed:" in l), "(none)"))
            missing_at = set(feeds.served) - (outage.state(db) or (set(), {}))[0]
            # A few more cycles of the outage: retries fail quietly, the daemon keeps running.
            for _ in range(3):
                feeds.grow(rng.randrange(NFEEDS), 3)
                outage.watch(db, feeds, names, 1.5, problems)
            h.check(d.alive(), "the daemon keeps running on a full disk")
            # Logged once per outage: a failure line, and no other until a write succeeded. SQLite
            # may free a little space before fill() takes it again, so a write can succeed in
            # between: the database was writable then, and a new outage begins.
            seq = outages(d)
            h.check(re.fullmatch(r"(FW)*F", seq) is not None,
                    f"the outage is logged once, and again only after a recovery ({seq})")
            h.check(bool(missing_at), f"items were left unstored by the outage ({len(missing_at)})")
            again = refetched(server)
            h.check(bool(again), f"feeds whose transaction failed were fetched whole again: {sorted(again)}")

            # Space returns: everything missed gets stored.
            os.unlink(filler)
            if os.path.exists(filler + "2"):
                os.unlink(filler + "2")
            back = h.wait_for(lambda: outage.all_stored(db, feeds) and d.count("writable again"), 20)
            outage.watch(db, feeds, names, 0.5, problems)
            h.check(bool(back), "every item missed during the outage is stored once space returns")
            seq = outages(d)
            h.check(re.fullmatch(r"(FW)+", seq) is not None,
                    f"the recovery is logged once after each outage ({seq})")
            h.check(d.count("stay queued") <= 1 and d.count("stay queued") >= d.count("queued alerts went out"),
                    "alerts a full disk kept queued are logged at most once, and their end once")
            h.check(not problems, f"no feed state ran ahead of its items at any time ({problems[:3]})")
            c = sqlite3.connect(db)
            h.check(c.execute("pragma integrity_check").fetchone()[0] == "ok", "PRAGMA integrity_check is ok")
            n, k = c.execute("select count(*), count(distinct guid) from items").fetchone()
            c.close()
            h.check(n == k == len(feeds.served), f"each item stored once ({n} rows, {len(feeds.served)} served)")
            h.check(d.alive(), "the daemon is still running")
        finally:
            rc = d.stop()
            server.stop()
            subprocess.run(["umount", dbdir])
        h.check(rc == 0, f"SIGTERM: exit 0 ({rc})")
        h.check("AddressSanitizer" not in open(d.log).read(), "no sanitizer report")
    print(f"took {time.monotonic() - t0:.1f}s")
    h.finish()


if __name__ == "__main__":
    main()
