"""max_host_connections is kept by veilled's own queue, not libcurl's. Four feeds on one host
that answers each request after 1.2 s, one transfer at a time (max_host_connections = 1), and a
3 s timeout: one after the other they take 4.8 s, and libcurl, which holds a host's transfers
beyond the limit with their timeout already running, timed the third and fourth out. Every feed
must be stored without an error, the host's transfers one at a time (the cycle takes at least
4.8 s), while two feeds of another host (localhost, the same server) go on beside them instead of
waiting for the first host's (the cycle takes well under the 7.2 s of all six in a row)."""

import os
import sqlite3
import subprocess
import time

import harness as h
from corpus import OFF_TOPIC
from feedgen import write_stories

DELAY_MS = 1200


def main():
    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.mkdir(root)
        feeds = []
        for i in range(6):
            name = f"f{i}.xml"
            write_stories(os.path.join(root, name), name, OFF_TOPIC[i:i + 1], f"urn:{name}",
                          f"https://h.example.fr/{name}")
        server = h.FeedServer(root, tmp)
        try:
            for i in range(6):
                host = "127.0.0.1" if i < 4 else "localhost"
                feeds.append((f"feed{i}",
                              f"http://{host}:{server.port}/delay/{DELAY_MS}/f{i}.xml"))
            db = os.path.join(tmp, "v.db")
            conf = os.path.join(tmp, "v.conf")
            h.write_config(conf, db, feeds, extra="timeout = 3s\nmax_connections = 8\n"
                           "max_host_connections = 1\nalerts = none\n")
            t0 = time.monotonic()
            p = subprocess.run([h.VEILLED, "-c", conf, "--once"], capture_output=True,
                               text=True, timeout=120)
            elapsed = time.monotonic() - t0
            h.check(p.returncode == 0, f"veilled --once exits 0 ({p.returncode}: {p.stderr[-400:]})")
            with sqlite3.connect(db) as c:
                rows = c.execute("select name, errors, last_error, items from feeds order by name"
                                 ).fetchall()
            h.check(len(rows) == 6 and all(r[1] == 0 and r[3] == 1 for r in rows),
                    f"every feed stored its item without an error: {rows}")
            h.check("timed out" not in p.stderr.lower() and "timeout" not in p.stderr.lower(),
                    f"no transfer timed out ({p.stderr[-400:]})")
            h.check(elapsed >= 4 * DELAY_MS / 1000,
                    f"one host's four transfers ran one at a time ({elapsed:.2f} s)")
            h.check(elapsed < 6.5,
                    f"the other host's went on beside them ({elapsed:.2f} s, 7.2 s in a row)")
        finally:
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
