"""A feed that moves permanently to a URL longer than veille keeps (2048 bytes), and a feed whose
stored URL is that long (a database from elsewhere): veilled --once stores the first feed's items
and keeps its old URL, so the next cycle fetches it again; the second fails to start, is counted
as failing with a clear error, and --once still finishes instead of waiting for it."""

import os
import sqlite3
import subprocess

import harness as h
from corpus import ON_TOPIC, OFF_TOPIC
from feedgen import write_stories


def run_once(conf, what):
    try:
        p = subprocess.run([h.VEILLED, "-c", conf, "--once"], capture_output=True, text=True,
                           timeout=60)
    except subprocess.TimeoutExpired:
        h.check(False, f"{what}: veilled --once finishes (still running after 60 s)")
        return None
    return p


def main():
    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.mkdir(root)
        for name, stories in (("f.xml", ON_TOPIC[:3]), ("g.xml", OFF_TOPIC[:2])):
            write_stories(os.path.join(root, name), name, stories, f"urn:{name}",
                          f"https://m.example.fr/{name}")
        server = h.FeedServer(root, tmp)
        try:
            db = os.path.join(tmp, "v.db")
            conf = os.path.join(tmp, "v.conf")
            moved = f"{server.base}/long-move/2500/f.xml"
            h.write_config(conf, db, [("moved", moved), ("plain", f"{server.base}/g.xml")],
                           extra="alerts = none\n")
            p = run_once(conf, "first cycle")
            h.check(p and p.returncode == 0, f"first cycle exits 0 ({p and p.stderr[-300:]})")
            with sqlite3.connect(db) as c:
                url, n = c.execute("select url, items from feeds where name = 'moved'").fetchone()
            h.check(url == moved and n == 3,
                    f"the feed's items are stored and its URL kept ({len(url)} bytes, {n} items)")
            h.check(p and "longer than 2048: kept" in p.stderr,
                    "the log says the move was not followed for good")

            # A stored URL longer than a transfer takes: no transfer starts.
            with sqlite3.connect(db) as c:
                c.execute("update feeds set url = ? where name = 'plain'",
                          (f"{server.base}/pad/3/{'a' * 1000}/{'a' * 1000}/{'a' * 500}/g.xml",))
            before = len([r for r in server.requests() if "long-move" in r[1]])
            p = run_once(conf, "second cycle")
            h.check(p and p.returncode == 0, f"second cycle exits 0 ({p and p.stderr[-300:]})")
            after = len([r for r in server.requests() if "long-move" in r[1]])
            h.check(after == before + 1, f"the moved feed is fetched at its kept URL ({after - before})")
            with sqlite3.connect(db) as c:
                errors, err = c.execute("select errors, last_error from feeds where name = 'plain'"
                                        ).fetchone()
            h.check(errors == 1 and "cannot start a transfer" in (err or ""),
                    f"the feed whose transfer cannot start is failing, with its error ({errors}, {err})")
            h.check(p and any(l.startswith("veilled: feed plain (") and "...): cannot start a "
                              "transfer" in l for l in p.stderr.splitlines()),
                    "and the log says so, the URL cut short")
        finally:
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
