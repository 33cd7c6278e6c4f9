"""Alerts queued while the daemon runs go out through the sink of the configuration a reload
brings: veilled runs with alerts = none; `veillectl rescore --alert` queues alerts for the items
a lower threshold makes relevant; the configuration is changed to alerts = syslog and the daemon
reloaded (SIGHUP). Every queued alert reaches the private syslog receiver, and the daemon does not
call them alerts left by an unclean stop."""

import os
import signal
import sqlite3
import subprocess

import harness as h
from corpus import ON_TOPIC, OFF_TOPIC
from feedgen import write_stories


def main():
    with h.TempDir() as tmp:
        syslog = h.Syslog(tmp)
        root = os.path.join(tmp, "feeds")
        os.mkdir(root)
        stories = ON_TOPIC + OFF_TOPIC
        write_stories(os.path.join(root, "all.xml"), "Test", stories, "urn:r",
                      "https://n.example.fr")
        server = h.FeedServer(root, tmp)
        try:
            db = os.path.join(tmp, "v.db")
            conf = os.path.join(tmp, "v.conf")

            def configure(sink, threshold):
                # An hour between fetches: the daemon fetches once, at its start.
                h.write_config(conf, db, [("all", f"{server.base}/all.xml")],
                               extra=f"alerts = {sink}\ninterval = 1h\n", threshold=threshold)

            configure("none", "0.999")  # nothing relevant
            log = os.path.join(tmp, "veilled.log")
            with open(log, "w") as logf:
                p = subprocess.Popen(syslog.command([h.VEILLED, "-c", conf]), stdout=logf,
                                     stderr=logf)
            try:
                h.check(h.wait_for(lambda: "feed all: " in open(log).read(), 30),
                        "the daemon stores the feed")
                configure("syslog", h.shipped_threshold())
                r = subprocess.run([h.VEILLECTL, "-c", conf, "rescore", "--alert"],
                                   capture_output=True, text=True, timeout=120)
                with sqlite3.connect(db) as c:
                    pending = c.execute("select count(*) from alerts where sent is null"
                                        ).fetchone()[0]
                h.check(r.returncode == 0 and pending > 0,
                        f"rescore --alert queues alerts ({pending}; {r.stdout.strip()[-200:]})")
                p.send_signal(signal.SIGHUP)
                h.check(h.wait_for(lambda: "configuration reloaded" in open(log).read(), 30),
                        "the reload is done")
                h.wait_for(lambda: len(syslog.alerts()) >= pending, 5)
                got = syslog.alerts()
                h.check(len(got) == pending,
                        f"the {pending} queued alerts go to the new sink, syslog ({len(got)})")
                with sqlite3.connect(db) as c:
                    left = c.execute("select count(*) from alerts where sent is null"
                                     ).fetchone()[0]
                h.check(left == 0, f"and are marked sent ({left} left)")
                text = open(log, errors="replace").read()
                h.check("unclean stop" not in text,
                        "a reload does not call queued alerts left by an unclean stop")
                p.send_signal(signal.SIGTERM)
                rc = p.wait(20)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            h.check(rc == 0, f"SIGTERM: exit 0 ({rc})")
        finally:
            syslog.stop()
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
