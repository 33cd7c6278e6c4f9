"""The systemd notification protocol with a fake NOTIFY_SOCKET: READY=1 from the main pid,
STATUS= with counters, WATCHDOG=1 at about half the interval, RELOADING=1 then READY=1 on SIGHUP
(the new configuration takes effect; an invalid one is refused and the old one kept), STOPPING=1
and exit 0 on SIGTERM while a transfer hangs."""

import os
import signal
import subprocess
import time

import harness as h
from corpus import OFF_TOPIC
from feedgen import WRITERS, item


def main():
    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.makedirs(root)
        for name in ("a.xml", "b.xml"):
            with open(os.path.join(root, name), "w") as f:
                f.write(WRITERS["rss2"](name, [item(OFF_TOPIC[0], f"urn:{name}", f"https://x.example.fr/{name}", 0)]))
        server = h.FeedServer(root, tmp)
        notify = h.NotifySocket(tmp)
        db = os.path.join(tmp, "veille.db")
        conf = os.path.join(tmp, "veille.conf")
        feeds = [("a", f"{server.base}/a.xml"), ("hang", f"{server.base}/hang/a.xml")]
        h.write_config(conf, db, feeds, extra="alerts = none\n")
        env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="1000000")
        errlog = open(os.path.join(tmp, "veilled.err"), "w+")
        proc = subprocess.Popen(["sh", "-c", 'export WATCHDOG_PID=$$; exec "$@"', "sh", h.VEILLED, "-c", conf],
                                env=env, stderr=errlog)
        try:
            m = notify.wait_for(lambda t: "READY=1" in t, 10)
            h.check(m is not None, "READY=1 received")
            h.check(m and m[0] == proc.pid, f"READY=1 sent by the main pid ({m and m[0]} vs {proc.pid})")
            m = notify.wait_for(lambda t: t.startswith("STATUS="), 10)
            h.check(m and "feeds" in m[1] and "items" in m[1], f"STATUS= with counters: {m and m[1]}")
            t0 = time.monotonic()
            w1 = notify.wait_for(lambda t: "WATCHDOG=1" in t, 3)
            w2 = notify.wait_for(lambda t: "WATCHDOG=1" in t, 3)
            dt = time.monotonic() - t0
            h.check(w1 and w2 and dt < 2.5, f"WATCHDOG=1 about every half second ({dt:.2f}s for two)")

            # Reload with a new feed: it must be fetched, proving the new configuration is live.
            h.write_config(conf, db, feeds + [("b", f"{server.base}/b.xml")], extra="alerts = none\n")
            proc.send_signal(signal.SIGHUP)
            r = notify.wait_for(lambda t: "RELOADING=1" in t, 5)
            h.check(r is not None, "RELOADING=1 after SIGHUP")
            r = notify.wait_for(lambda t: "READY=1" in t, 5)
            h.check(r is not None, "READY=1 after the reload")
            fetched_b = h.wait_for(lambda: any("/b.xml" in " ".join(x) for x in server.requests()), 15)
            h.check(fetched_b, "the feed added by the reload is fetched")

            # An invalid configuration is refused; the daemon keeps running on the old one.
            with open(conf, "a") as f:
                f.write("\n[feed broken]\nurl = ftp://example.org/feed\n")
            proc.send_signal(signal.SIGHUP)
            h.check(notify.wait_for(lambda t: "READY=1" in t, 5) is not None, "READY=1 after a refused reload")
            time.sleep(0.3)
            errlog.seek(0)
            err = errlog.read()
            h.check("reload refused" in err and "veille.conf:" in err and "ftp://" in err,
                    "the refused reload is logged with file and line")
            h.check(proc.poll() is None, "still running after a refused reload")

            # Stop while the /hang/ transfer is in flight.
            hang_seen = h.wait_for(lambda: any("/hang/" in " ".join(x) for x in server.requests()), 10)
            h.check(hang_seen, "a transfer hangs on the server")
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            s = notify.wait_for(lambda t: "STOPPING=1" in t, 5)
            h.check(s is not None, "STOPPING=1 after SIGTERM")
            try:
                rc = proc.wait(5)
            except subprocess.TimeoutExpired:
                rc = None
            h.check(rc == 0, f"exit status 0 within 5 s ({rc}, {time.monotonic() - t0:.2f}s)")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            notify.close()
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
