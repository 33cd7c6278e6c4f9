"""A SIGHUP during `veilled --once` (a reload from a timer's service, logrotate) starts the cycle
again on the new configuration, and the run still ends: the feeds whose fetch the reload
cancelled used to stay counted as pending, and the process never exited. Two feeds, one answering
at once and one after 3 s; the reload comes while the slow one is in flight. The run must exit 0
with both feeds stored, without an error."""

import os
import signal
import sqlite3
import subprocess

import harness as h
from corpus import OFF_TOPIC
from feedgen import write_stories

DELAY_MS = 3000


def main():
    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.mkdir(root)
        for i in range(2):
            name = f"f{i}.xml"
            write_stories(os.path.join(root, name), name, OFF_TOPIC[i:i + 1], f"urn:{name}",
                          f"https://h.example.fr/{name}")
        server = h.FeedServer(root, tmp)
        try:
            feeds = [("fast", f"{server.base}/f0.xml"),
                     ("slow", f"{server.base}/delay/{DELAY_MS}/f1.xml")]
            db = os.path.join(tmp, "v.db")
            conf = os.path.join(tmp, "v.conf")
            h.write_config(conf, db, feeds, extra="alerts = none\n")
            log = os.path.join(tmp, "veilled.log")
            with open(log, "w") as logf:
                p = subprocess.Popen([h.VEILLED, "-c", conf, "--once", "-v"], stdout=logf,
                                     stderr=logf)
            try:
                h.check(h.wait_for(lambda: "feed fast: " in open(log).read(), 20),
                        "the fast feed is stored first")
                p.send_signal(signal.SIGHUP)
                try:
                    rc = p.wait(30)
                except subprocess.TimeoutExpired:
                    rc = None
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            text = open(log, errors="replace").read()
            h.check("configuration reloaded" in text, "the reload is done")
            h.check(rc == 0, f"the --once run ends after the reload, exit 0 ({rc}): "
                    f"{text[-600:]}")
            with sqlite3.connect(db) as c:
                rows = c.execute("select name, errors, items from feeds order by name").fetchall()
            h.check(rows == [("fast", 0, 1), ("slow", 0, 1)],
                    f"both feeds stored, without an error: {rows}")
        finally:
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
