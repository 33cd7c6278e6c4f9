"""End to end: veilled --once against a dozen local feeds (RSS 2.0, RDF, Atom), with stories
repeated across feeds, six on the topic and fourteen off it; alerts read back from a real
rsyslogd. Then a second cycle must store and alert nothing new."""

import json
import os
import sqlite3
import subprocess

import harness as h
from corpus import ON_TOPIC, OFF_TOPIC
from feedgen import WRITERS, item

NFEEDS = 12
KINDS = ["rss2", "rdf", "atom"]


def build_feeds(root):
    stories = [("on", i, s) for i, s in enumerate(ON_TOPIC)] + [("off", i, s) for i, s in enumerate(OFF_TOPIC)]
    feeds = {k: [] for k in range(NFEEDS)}
    for n, (kind, i, s) in enumerate(stories):
        feeds[n % NFEEDS].append(item(s, f"urn:veille-test:{kind}{i}",
                                      f"https://news.example.fr/{kind}/{i}", n))
    # The same stories met again elsewhere: another guid, another URL (tracking parameters,
    # another outlet), same text.
    feeds[5].append(item(ON_TOPIC[0], "urn:other:on0", "https://autre.example.fr/on0?utm_source=rss&xtor=RSS-1", 100))
    feeds[9].append(item(ON_TOPIC[1], "urn:other:on1", "https://news.example.fr/on/1#comments", 101))
    feeds[7].append(item(OFF_TOPIC[0], "urn:other:off0-a", "https://sport.example.fr/off0", 102))
    feeds[11].append(item(OFF_TOPIC[0], "urn:other:off0-b", "https://sport.example.fr/off0?at_medium=rss", 103))
    names = []
    for k in range(NFEEDS):
        kind = KINDS[k % 3]
        name = f"feed{k:02d}.xml"
        with open(os.path.join(root, name), "w", encoding="utf-8") as f:
            f.write(WRITERS[kind](f"Test feed {k}", feeds[k]))
        names.append((f"test-{k:02d}-{kind}", name))
    return names, len(stories)


def run_once(syslog, conf, what):
    p = subprocess.run(syslog.command([h.VEILLED, "-c", conf, "--once"]), capture_output=True,
                       text=True, timeout=120)
    h.check(p.returncode == 0, f"{what}: veilled --once exits 0 (got {p.returncode}: {p.stderr.strip()[-500:]})")
    return p


def ctl(conf, *args):
    p = subprocess.run([h.VEILLECTL, "-c", conf] + list(args), capture_output=True, text=True, timeout=60)
    h.check(p.returncode == 0, f"veillectl {' '.join(args)} exits 0 ({p.stderr.strip()})")
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def main():
    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.mkdir(root)
        names, nstories = build_feeds(root)
        server = h.FeedServer(root, tmp)
        syslog = h.Syslog(tmp)
        try:
            db = os.path.join(tmp, "veille.db")
            conf = os.path.join(tmp, "veille.conf")
            feeds = [(n, f"{server.base}/{f}") for n, f in names]
            # One feed nobody answers: a clean per-feed error, the others unaffected.
            feeds.append(("test-refused", "http://127.0.0.1:1/feed.xml"))
            # Two transfer slots for 13 feeds: most wait in the engine's queue.
            h.write_config(conf, db, feeds, extra="alerts = syslog\nmax_connections = 2\n")

            p = run_once(syslog, conf, "first cycle")
            h.check("test-refused" in p.stderr and "retrying in" in p.stderr,
                    "the unreachable feed is reported once, with when it is retried")

            items = ctl(conf, "items", "--json")
            h.check(len(items) == nstories, f"{nstories} distinct stories stored (got {len(items)})")
            with sqlite3.connect(db) as c:
                n, distinct = c.execute("select count(*), count(distinct hash) from items").fetchone()
                h.check(n == distinct == nstories, f"no duplicate content hash ({n} rows, {distinct} hashes)")
                srcs = c.execute("select count(*) from sources").fetchone()[0]
                h.check(srcs == nstories + 4, f"every (feed, item) met is kept as a source (got {srcs})")
            relevant = {i["title"] for i in items if i["relevant"]}
            on_titles = {s[0] for s in ON_TOPIC}
            h.check(relevant == on_titles,
                    f"exactly the on-topic stories are relevant (missed {on_titles - relevant}, "
                    f"extra {relevant - on_titles})")
            for i in items:
                if i["relevant"]:
                    h.check(i["terms"] and all(len(t) == 2 for t in i["terms"]),
                            f"verdict explains itself: {i['title'][:40]} {i['terms'][:3]}")

            got = h.wait_for(lambda: len(syslog.alerts()) >= len(ON_TOPIC), 5)
            lines = syslog.alerts()
            h.check(len(lines) == len(ON_TOPIC), f"one alert per relevant story ({len(lines)} lines)")
            for t in on_titles:
                n = sum(1 for l in lines if f'title="{t}"' in l)
                h.check(n == 1, f"alert for «{t[:40]}» sent once (got {n})")
            h.check(all(l.split()[0] in ("daemon.notice", "daemon.warning") for l in lines),
                    "alerts go to facility daemon at notice/warning")
            h.check(all(l.split()[1].startswith("veilled[") for l in lines), "alerts are tagged veilled[PID]")
            h.check(all(" score=" in l and " feed=test-" in l and " url=https://" in l for l in lines),
                    "alerts carry score, feed and url")
            del got

            fstate = {f["name"]: f for f in ctl(conf, "feeds", "--json")}
            h.check(fstate["test-refused"]["errors"] == 1 and fstate["test-refused"]["last_error"],
                    f"veillectl feeds shows the failing feed: {fstate['test-refused']['last_error']}")
            h.check(all(fstate[n]["status"] == 200 and fstate[n]["errors"] == 0 for n, _ in names),
                    "every fixture feed fetched with 200")

            before = len(server.requests())
            run_once(syslog, conf, "second cycle")
            items2 = ctl(conf, "items", "--json")
            h.check(len(items2) == nstories, f"second cycle stores nothing new ({len(items2)})")
            h.wait_for(lambda: False, 1)
            h.check(len(syslog.alerts()) == len(ON_TOPIC), "second cycle alerts nothing new")
            second = server.requests()[before:]
            n304 = sum(1 for r in second if "304" in r)
            h.check(n304 == NFEEDS, f"second cycle: every feed answered 304 to a conditional GET ({n304})")
            stats = ctl(conf, "stats", "--json")[0]
            h.check(stats["items"] == nstories and stats["alerts_pending"] == 0 and
                    stats["alerts_sent"] == len(ON_TOPIC), f"stats agree: {stats}")
        finally:
            syslog.stop()
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
