"""The systemd notification protocol with a fake NOTIFY_SOCKET: READY=1 from the main pid, after
EXTEND_TIMEOUT_USEC= while the database's schema is made, STATUS= with live counters (feeds ok /
failing, items and alerts today, next fetch), WATCHDOG=1 at about half the interval, RELOADING=1
then READY=1 on SIGHUP (the new configuration takes effect, the feeds' state and the day's
counters are kept; an invalid one is refused, logged, and the old one kept), STOPPING=1 and exit
0 on SIGTERM while a transfer hangs."""

import calendar
import os
import re
import signal
import subprocess
import time

import harness as h
from corpus import OFF_TOPIC, ON_TOPIC
from feedgen import WRITERS, item

STATUS_RE = re.compile(r"STATUS=(\d+) feeds: (\d+) ok, (\d+) failing, (\d+) disabled; "
                       r"today (\d+) items, (\d+) alerts; next fetch (\S+)$")


def status_is(feeds, ok, failing, items, alerts):
    """A predicate on a notification: a STATUS= line with these counters and a next fetch time."""
    def pred(text):
        m = STATUS_RE.match(text)
        return bool(m) and tuple(int(x) for x in m.groups()[:6]) == (feeds, ok, failing, 0, items, alerts)
    return pred


def next_fetch(text):
    """The next fetch of a STATUS= line, as a Unix time."""
    when = STATUS_RE.match(text).group(7)
    return calendar.timegm(time.strptime(when, "%Y-%m-%dT%H:%M:%SZ"))


def main():
    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.makedirs(root)
        # a.xml: one relevant item (an alert); b.xml: one item of no interest.
        for name, story in (("a.xml", ON_TOPIC[0]), ("b.xml", OFF_TOPIC[0])):
            with open(os.path.join(root, name), "w") as f:
                f.write(WRITERS["rss2"](name, [item(story, f"urn:{name}", f"https://x.example.fr/{name}", 0)]))
        server = h.FeedServer(root, tmp)
        notify = h.NotifySocket(tmp)
        db = os.path.join(tmp, "veille.db")
        conf = os.path.join(tmp, "veille.conf")
        feeds = [("a", f"{server.base}/a.xml"), ("hang", f"{server.base}/hang/a.xml"),
                 ("fail", f"{server.base}/status/500/a.xml")]
        h.write_config(conf, db, feeds, extra="alerts = none\n")
        env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="1000000")
        errlog = open(os.path.join(tmp, "veilled.err"), "w+")
        proc = subprocess.Popen(["sh", "-c", 'export WATCHDOG_PID=$$; exec "$@"', "sh", h.VEILLED, "-c", conf],
                                env=env, stderr=errlog)
        try:
            m = notify.wait_for(lambda t: "READY=1" in t, 10)
            h.check(m is not None, "READY=1 received")
            h.check(m and m[0] == proc.pid, f"READY=1 sent by the main pid ({m and m[0]} vs {proc.pid})")
            # Creating the database is a schema upgrade from version 0: systemd is asked for more
            # time to start before it, from the main pid.
            ready_at = notify.messages.index(m) if m else 0
            ext = [(pid, t) for pid, t in notify.messages[:ready_at]
                   if re.fullmatch(r"EXTEND_TIMEOUT_USEC=[1-9]\d*", t)]
            h.check(bool(ext) and all(pid == proc.pid for pid, _ in ext),
                    f"EXTEND_TIMEOUT_USEC= before READY=1 while the schema is made: {notify.messages[:ready_at]}")
            m = notify.wait_for(lambda t: t.startswith("STATUS="), 10)
            h.check(m and STATUS_RE.match(m[1]), f"STATUS= with counters: {m and m[1]}")
            # Status lines come every 5 s: wait for the one after a and fail were fetched (hang
            # is in flight, neither ok nor failing).
            m = notify.wait_for(status_is(3, 1, 1, 1, 1), 15)
            h.check(m is not None, "STATUS=3 feeds: 1 ok, 1 failing, 0 disabled; today 1 items, 1 alerts")
            if m:
                nxt = next_fetch(m[1])
                h.check(time.time() - 5 < nxt < time.time() + 6 * 3600, f"next fetch is ahead: {m[1]}")
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
            # State kept: a (fetched, next fetch in 15 min) and fail (backing off) are not fetched
            # again, and the day's counters go on from where they were.
            m = notify.wait_for(status_is(4, 2, 1, 2, 1), 15)
            h.check(m is not None, "after the reload: 4 feeds: 2 ok, 1 failing; today 2 items, 1 alerts")
            a_gets = sum(1 for x in server.requests() if x[1] == "/a.xml")
            h.check(a_gets == 1, f"a is not fetched again after the reload ({a_gets} requests)")

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
            m = notify.wait_for(lambda t: t.startswith("STATUS="), 7)
            h.check(m and status_is(4, 2, 1, 2, 1)(m[1]), f"the old configuration runs on: {m and m[1]}")

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
