"""Retention as the daemon applies it: veilled --once stores a feed's items; the test ages them
in the real SQLite file; the next veilled --once, with [retention] irrelevant = 30d, deletes the
old irrelevant items (from search too, with their sources and verdicts), keeps the relevant ones
and the new ones, and says how many it deleted."""

import json
import os
import sqlite3
import subprocess

import harness as h
from corpus import ON_TOPIC, OFF_TOPIC
from feedgen import rss2, item


def write_feed(root, stories):
    with open(os.path.join(root, "f.xml"), "w", encoding="utf-8") as f:
        f.write(rss2("Retention", [item(s, f"urn:ret:{n}", f"https://news.example.fr/r/{n}", n)
                                   for n, s in enumerate(stories)]))


def ctl(conf, *args):
    p = subprocess.run([h.VEILLECTL, "-c", conf] + list(args), capture_output=True, text=True, timeout=60)
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def main():
    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.mkdir(root)
        old_stories = ON_TOPIC[:2] + OFF_TOPIC[:3]
        write_feed(root, old_stories)
        server = h.FeedServer(root, tmp)
        try:
            db = os.path.join(tmp, "veille.db")
            conf = os.path.join(tmp, "veille.conf")
            h.write_config(conf, db, [("ret", f"{server.base}/f.xml")],
                           extra="alerts = none\n\n[retention]\nirrelevant = 30d\nrelevant = forever\n")
            p = subprocess.run([h.VEILLED, "-c", conf, "--once"], capture_output=True, text=True, timeout=120)
            h.check(p.returncode == 0 and "retention:" not in p.stderr, "first cycle stores, deletes nothing")
            items = ctl(conf, "items", "--json")
            h.check(len(items) == 5, f"five items stored ({len(items)})")
            h.check(len(ctl(conf, "search", "--json", "PSG")) == 1, "an off-topic story is searchable")
            with sqlite3.connect(db) as c:
                c.execute("update items set fetched = fetched - 40 * 86400")
                c.execute("update sources set first_seen = first_seen - 40 * 86400")
                sources_before = c.execute("select count(*) from sources").fetchone()[0]

            # A new off-topic story arrives: new and irrelevant, it stays.
            write_feed(root, old_stories + [OFF_TOPIC[3]])
            p = subprocess.run([h.VEILLED, "-c", conf, "--once"], capture_output=True, text=True, timeout=120)
            h.check(p.returncode == 0, f"second cycle exits 0 ({p.stderr.strip()[-300:]})")
            h.check("retention: 3 old items deleted" in p.stderr, f"the daemon reports the deletion: {p.stderr.strip()[-300:]}")
            after = ctl(conf, "items", "--json")
            titles = {i["title"] for i in after}
            h.check(titles == {s[0] for s in ON_TOPIC[:2]} | {OFF_TOPIC[3][0]},
                    f"old relevant items and the new item kept, old irrelevant ones gone: {sorted(titles)}")
            h.check(ctl(conf, "search", "--json", "PSG") == [], "the deleted items are gone from search")
            h.check(len(ctl(conf, "search", "--json", "Loukachenko frontiere")) == 1,
                    "the kept relevant items are still searchable")
            with sqlite3.connect(db) as c:
                srcs = c.execute("select count(*) from sources").fetchone()[0]
                orphans = c.execute("select (select count(*) from sources where item_id not in (select id from items))"
                                    " + (select count(*) from verdicts where item_id not in (select id from items))"
                                    ).fetchone()[0]
                h.check(srcs == sources_before - 3 + 1 and orphans == 0,
                        f"sources and verdicts of deleted items deleted with them ({srcs} sources, {orphans} orphans)")
        finally:
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
