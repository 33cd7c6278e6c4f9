"""Shared by the storage-outage tests (test_disk_full, test_readonly_db): a running veilled, and
what must hold for every feed at every moment, outage or not."""

import os
import signal
import sqlite3
import subprocess

import harness as h


class Daemon:
    """veilled (argv ends with its arguments) running in the background, stderr to a log file."""

    def __init__(self, argv, log):
        self.log = log
        self.logf = open(log, "a")
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=self.logf)

    def alive(self):
        return self.proc.poll() is None

    def lines(self):
        with open(self.log, errors="replace") as f:
            return f.read().splitlines()

    def count(self, text):
        return sum(1 for l in self.lines() if text in l)

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.logf.close()
        return rc


def etag_of(path):
    """The ETag the fixture server gives the file at path now."""
    st = os.stat(path)
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"'


def state(db):
    """Stored guids, and per feed (etag, items counter, items stored from it); None when the
    database cannot be read at this moment."""
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            guids = {g for (g,) in c.execute("select guid from items")}
            feeds = {n: (e, k, m) for n, e, k, m in c.execute(
                "select name, etag, items, (select count(*) from items i where i.feed_id = f.id)"
                " from feeds f")}
        finally:
            c.close()
    except sqlite3.Error:
        return None
    return guids, feeds


def violations(db, feeds, names):
    """Feeds whose stored state runs ahead of their stored items: a stored ETag that is the
    document's current one while some of that document's items are missing (a 304 would then
    lose them), or an item counter that disagrees with the items stored. names[f] is feed f's
    configured name. Returns a list of strings, or None when the database was unreadable."""
    s = state(db)
    if s is None:
        return None
    guids, stored = s
    bad = []
    for f, name in enumerate(names):
        if name not in stored:
            continue
        etag, counter, n = stored[name]
        if counter != n:
            bad.append(f"{name}: counter {counter}, {n} items stored")
        doc = {it["guid"] for it in feeds.items[f]}
        if etag and etag == etag_of(os.path.join(feeds.root, feeds.name(f))) and not doc <= guids:
            bad.append(f"{name}: current ETag stored, {len(doc - guids)} of its items missing")
    return bad


def all_stored(db, feeds):
    s = state(db)
    return s is not None and set(feeds.served) <= s[0]


def watch(db, feeds, names, seconds, problems):
    """Checks the invariant every 0.1 s for seconds; appends what it finds to problems."""
    def check():
        v = violations(db, feeds, names)
        if v:
            problems.extend(v)
        return False
    h.wait_for(check, seconds, step=0.1)
