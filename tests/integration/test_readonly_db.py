"""A read-only database: veilled runs as an unprivileged user (root ignores file modes). After a
first run has stored the feeds, the database file is made read-only (chmod 0444) and veilled is
started again while the feeds grow: it starts, logs the failure once, keeps running, stores no
feed state ahead of its items, and backs off: a feed whose document the database refused is
fetched again after 3, 6, 12... seconds (min_interval 3s), not every 3 seconds. Once the file is
writable again (chmod 0644, no restart) it opens the database again; the first document stored
(a feed with a fixed 1 s interval, which a backoff never holds longer) brings the feeds that
backed off back within 3 s (their first retry's wait), and everything missed is stored.

Why chmod and a restart, rather than making the file read-only under a running daemon: SQLite
keeps the file open for writing, so a mode change does not reach the open descriptor, and the
kernel refuses to remount a filesystem read-only (EBUSY) while a file on it is open for writing.
A database that is read-only when veilled opens it is the case that happens (a restore, a
permissions mistake), and the one where the connection itself stays read-only until reopened."""

import os
import pwd
import random
import re
import shutil
import sqlite3
import time

import harness as h
import outage
from corpus import OFF_TOPIC
from feedgen import item, rss2
from newsfeeds import NewsFeeds

NFEEDS = 6


def main():
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        h.skip("needs root and setpriv to run veilled as an unprivileged user")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        h.skip("no user nobody")
    t0 = time.monotonic()
    with h.TempDir() as tmp:
        os.chmod(tmp, 0o755)
        os.mkdir(os.path.join(tmp, "feeds"))
        feeds = NewsFeeds(os.path.join(tmp, "feeds"), NFEEDS, random.Random(5), prefix="ro")
        feeds.grow_all(4)
        server = h.FeedServer(feeds.root, tmp)
        dbdir = os.path.join(tmp, "db")
        os.mkdir(dbdir)
        os.chown(dbdir, nobody.pw_uid, nobody.pw_gid)
        db = os.path.join(dbdir, "veille.db")
        conf = os.path.join(tmp, "veille.conf")
        entries = feeds.entries(server.base)
        names = [name for name, _ in entries]
        # First run: every feed due again within a few seconds of its fetch.
        h.write_config(conf, db, entries,
                       extra="alerts = none\ninterval = 1s\nmin_interval = 1s\nmax_interval = 1s\n")
        os.chmod(conf, 0o644)
        argv = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
                h.VEILLED, "-c", conf]
        log = os.path.join(tmp, "veilled.log")
        problems = []
        try:
            d = outage.Daemon(argv, log)
            h.check(h.wait_for(lambda: outage.all_stored(db, feeds), 20), "first run: items stored")
            h.check(d.stop() == 0, "first run stops cleanly")

            # Second run: the feeds would wait up to 30 s after a success; one more, "fast",
            # has a fixed interval of 1 s.
            with open(os.path.join(feeds.root, "fast.xml"), "w", encoding="utf-8") as f:
                f.write(rss2("fast", [item(OFF_TOPIC[0], "urn:ro:fast:0", "https://news.example.fr/fast/0", 0)]))
            h.write_config(conf, db, entries,
                           extra="alerts = none\ninterval = 3s\nmin_interval = 3s\nmax_interval = 30s\n")
            with open(conf, "a") as f:
                f.write(f"\n[feed fast]\nurl = {server.base}/fast.xml\ninterval = 1s\n")
            os.chmod(db, 0o444)
            feeds.grow_all(3)
            before = len(open(log).read().splitlines())
            seen = len(server.requests())
            d = outage.Daemon(argv, log)
            lines = lambda: d.lines()[before:]
            failed = lambda: [l for l in lines() if "failed:" in l]
            h.wait_for(lambda: failed() or not d.alive(), 15)
            start = time.monotonic()
            outage.watch(db, feeds, names, 11, problems)
            h.check(d.alive(), f"veilled runs on a read-only database ({lines()[-3:]})")
            fl = failed()
            h.check(len(fl) == 1 and "read-only" in fl[0].lower(),
                    f"the failure is logged once and says read-only: {fl}")
            h.check(not outage.all_stored(db, feeds), "nothing new could be stored")
            gets = lambda path: [r for r in server.requests()[seen:] if r[0] == "GET" and r[1] == path]
            counts = sorted(len(gets("/" + feeds.name(f))) for f in range(NFEEDS))
            fast = len(gets("/fast.xml"))
            # In about 11.5 s: fetched at 0, 3 and 9 s (every 3 s or so without the backoff: 4).
            h.check(2 <= counts[0] and counts[-1] <= 3,
                    f"fetches back off while the database refuses the documents: {counts} in "
                    f"{time.monotonic() - start + 0.5:.1f}s, the fixed 1 s feed {fast}")

            os.chmod(db, 0o644)
            back = h.wait_for(lambda: outage.all_stored(db, feeds) and d.count("writable again"), 20)
            took = time.monotonic() - start
            outage.watch(db, feeds, names, 0.5, problems)
            h.check(bool(back), "once writable again (no restart), every item missed is stored")
            woke = [l for l in lines() if "fetching again soon the" in l]
            # (Those whose retry is sooner anyway, or under way, are not counted.)
            h.check(len(woke) == 1 and re.search(r"the [1-9][0-9]* feeds? whose documents it refused", woke[0])
                    and took < 19,
                    f"the first document stored brings the feeds that backed off back within 3 s: "
                    f"all stored {took:.1f}s after the outage began, before their next retry at 21 s "
                    f"({woke})")
            h.check(len([l for l in lines() if "writable again" in l]) == 1, "the recovery is logged once")
            h.check(len(failed()) == 1, "still one failure line in all")
            h.check(not problems, f"no feed state ran ahead of its items at any time ({problems[:3]})")
            c = sqlite3.connect(db)
            h.check(c.execute("pragma integrity_check").fetchone()[0] == "ok", "PRAGMA integrity_check is ok")
            n, k = c.execute("select count(*), count(distinct guid) from items").fetchone()
            c.close()
            h.check(n == k == len(feeds.served) + 1,
                    f"each item stored once ({n} rows, {len(feeds.served)} served and fast's)")
            h.check(d.stop() == 0, "SIGTERM: exit 0")
        finally:
            if d.alive():
                d.stop()
            server.stop()
    print(f"took {time.monotonic() - t0:.1f}s")
    h.finish()


if __name__ == "__main__":
    main()
