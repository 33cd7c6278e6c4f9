"""Reload and stop while documents are on their way through the worker thread: the daemon ingests
60 feeds (their first fetches spread over ten seconds), is reloaded (SIGHUP) after its first
stored feed, then stopped (SIGTERM) while feeds are still due. It must exit 0 at once, having
stored every document whose summary line it logged and nothing else (each feed's item counter
agreeing with its items); a last --once run stores the rest, and every relevant story is alerted
exactly once (syslog sink) across the three runs. (Whether a document was in the worker's hands
at the SIGTERM depends on timing: the test prints how many were stored after it.)"""

import collections
import os
import re
import signal
import sqlite3
import subprocess
import time

import crashlib as c
import harness as h
from newsfeeds import NewsFeeds

import random

NFEEDS = 60
SUMMARY = re.compile(r"feed (\S+): (?:.*; )?(\d+) items, (\d+) new, ")


def summaries(path):
    """feed -> new items, of every summary line in the log at path."""
    out = collections.Counter()
    with open(path, errors="replace") as f:
        for line in f:
            m = SUMMARY.search(line)
            if m:
                out[m.group(1)] += int(m.group(3))
    return out


def stored(db):
    """feed -> items stored, and the feeds whose item counter disagrees with them."""
    con = sqlite3.connect(db, timeout=10)
    try:
        n = dict(con.execute("select f.name, count(i.id) from feeds f left join items i"
                             " on i.feed_id = f.id group by f.id"))
        bad = con.execute("select f.name from feeds f where f.items != (select count(*)"
                          " from items i where i.feed_id = f.id)").fetchall()
    finally:
        con.close()
    return n, bad


def main():
    with h.TempDir() as tmp:
        syslog = h.Syslog(tmp)
        root = os.path.join(tmp, "feeds")
        os.makedirs(root)
        feeds = NewsFeeds(root, NFEEDS, random.Random(9), border_share=0.3, prefix="stop")
        feeds.grow_all(60)
        server = h.FeedServer(root, tmp)
        try:
            db = os.path.join(tmp, "veille.db")
            conf = os.path.join(tmp, "veille.conf")
            h.write_config(conf, db, feeds.entries(server.base, "{prefix}{f:03d}"),
                           extra="alerts = syslog\nmax_connections = 4\n")
            log = os.path.join(tmp, "veilled.log")
            with open(log, "w") as logf:
                p = subprocess.Popen(syslog.command([h.VEILLED, "-c", conf]), stdout=logf,
                                     stderr=logf)
            try:
                h.check(h.wait_for(lambda: len(summaries(log)) >= 1, 30),
                        "the daemon stores its first feed")
                p.send_signal(signal.SIGHUP)
                h.check(h.wait_for(lambda: "configuration reloaded" in open(log).read(), 30),
                        "the reload is done")
                n = len(summaries(log))
                h.wait_for(lambda: len(summaries(log)) >= n + 3, 30)
                p.send_signal(signal.SIGTERM)
                t0 = time.monotonic()
                rc = p.wait(20)
                took = time.monotonic() - t0
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            h.check(rc == 0, f"SIGTERM: exit 0 ({rc})")
            h.check(took < 5, f"SIGTERM: the daemon stops at once ({took:.1f}s)")
            with open(log, errors="replace") as f:
                text = f.read()
            during_hup = text.partition("SIGHUP received")[2].partition("configuration reloaded")[0]
            after_term = text.partition("SIGTERM received")[2]
            print(f"documents stored from the worker's hands: {len(SUMMARY.findall(during_hup))} "
                  f"during the reload, {len(SUMMARY.findall(after_term))} after SIGTERM")
            logged = summaries(log)
            got, bad = stored(db)
            got = {k: v for k, v in got.items() if v}
            h.check(0 < len(logged) < NFEEDS,
                    f"stopped amid the cycle ({len(logged)} of {NFEEDS} feeds stored)")
            h.check(got == dict(logged),
                    f"what was logged stored is stored, and nothing else ({sum(got.values())} "
                    f"items stored, {sum(logged.values())} logged)")
            h.check(bad == [], f"item counters agree with the items ({bad[:3]})")

            with open(log, "a") as logf:
                rc = subprocess.run(syslog.command([h.VEILLED, "-c", conf, "--once"]),
                                    stdout=logf, stderr=logf, timeout=120).returncode
            h.check(rc == 0, "the last --once run exits 0")
            con = sqlite3.connect(db)
            final = {g for (g,) in con.execute("select guid from items")}
            con.close()
            h.check(final == feeds.served_now(),
                    f"every item served is stored, once ({len(final)} of "
                    f"{len(feeds.served_now())})")
            h.check(sum(summaries(log).values()) == len(final),
                    "the summary lines account for every item")
            rel, _ = c.alerts_expected(db)
            want, counted = c.syslog_alerts(syslog, rel)
            h.wait_for(lambda: set(counted()) >= want, 5)
            count = counted()
            h.check(len(want) > 0 and set(count) == want,
                    f"every relevant story alerted ({len(want)} relevant, {len(count)} alerted)")
            h.check(all(v == 1 for v in count.values()),
                    f"no alert sent twice ({sum(count.values()) - len(count)} repeats)")
        finally:
            server.stop()
            syslog.stop()
    h.finish()


if __name__ == "__main__":
    main()
