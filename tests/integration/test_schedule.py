"""The adaptive schedule, end to end. Feeds whose items' published dates show a known publishing
rate are fetched once by `veilled --once`; each feed's stored next fetch must then follow the
policy: the mean gap between items, clamped to [min_interval, max_interval], never shorter than
the feed's RSS <ttl> or the HTTP Cache-Control max-age, a per-feed `interval` used as is, all
within the +-10% jitter. Then veilled is started as a daemon after three feeds were made past due,
one of which has meanwhile moved for good (301) to a URL that answers 304: the feeds past due
are fetched right away, the feeds not yet due are not (their next fetch survived the restart), a
304 keeps the stored rate and <ttl> in the next fetch, and the move is recorded although no
document came with it."""

import json
import os
import sqlite3
import subprocess
import time
from datetime import datetime, timedelta, timezone

import harness as h
from corpus import ON_TOPIC, OFF_TOPIC
from feedgen import WRITERS

MIN, MAX = 300, 4 * 3600  # min_interval = 5m, max_interval = 4h
STORIES = list(OFF_TOPIC) + list(ON_TOPIC)


def write(root, name, n, gap, ttl=None):
    """n items, the newest gap seconds ago, one every gap seconds: n in n * gap seconds."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    items = [{"title": f"{name} {i}: {STORIES[i % len(STORIES)][0]}", "text": STORIES[i % len(STORIES)][1],
              "guid": f"urn:sched:{name}:{i}", "link": f"https://news.example.fr/{name}/{i}",
              "date": now - timedelta(seconds=(i + 1) * gap)} for i in range(n)]
    doc = WRITERS["rss2"](name, items)
    if ttl:
        doc = doc.replace("<channel>", f"<channel><ttl>{ttl}</ttl>", 1)
    with open(os.path.join(root, f"{name}.xml"), "w", encoding="utf-8") as f:
        f.write(doc)


def feeds_json(conf):
    p = subprocess.run([h.VEILLECTL, "-c", conf, "feeds", "--json"], capture_output=True, text=True, timeout=60)
    h.check(p.returncode == 0, f"veillectl feeds --json exits 0 ({p.stderr.strip()})")
    return {f["name"]: f for f in map(json.loads, p.stdout.splitlines())}


def epoch(iso):
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def main():
    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.mkdir(root)
        write(root, "busy", 12, 1800)         # 12 items in 6 h: one every 30 min -> 1800 s
        write(root, "hourly", 24, 3600)       # one an hour -> 3600 s
        write(root, "frantic", 30, 60)        # one a minute -> clamped to min_interval
        write(root, "slow", 3, 7 * 86400)     # one a week -> clamped to max_interval
        write(root, "ttl", 12, 1800, ttl=180)  # one every 30 min, but <ttl> 3 h -> 10800 s
        server = h.FeedServer(root, tmp)
        try:
            b = server.base
            feeds = [("busy", f"{b}/busy.xml"), ("hourly", f"{b}/hourly.xml"),
                     ("frantic", f"{b}/frantic.xml"), ("slow", f"{b}/slow.xml"), ("ttl", f"{b}/ttl.xml"),
                     ("maxage", f"{b}/max-age/7200/busy.xml"),
                     ("moving", f"{b}/moved-if/hourly.moved/hourly.xml")]
            db = os.path.join(tmp, "veille.db")
            conf = os.path.join(tmp, "veille.conf")
            h.write_config(conf, db, feeds, topic=False,
                           extra=f"min_interval = {MIN}s\nmax_interval = {MAX}s\nalerts = none\n")
            with open(conf, "a") as f:  # a per-feed interval overrides the adaptation
                f.write(f"\n[feed fixed]\nurl = {b}/busy.xml\ninterval = 45m\n")
            names = [n for n, _ in feeds] + ["fixed"]

            p = subprocess.run([h.VEILLED, "-c", conf, "--once"], capture_output=True, text=True, timeout=60)
            h.check(p.returncode == 0, f"veilled --once exits 0 ({p.stderr.strip()[-500:]})")
            fs = feeds_json(conf)
            want = {"busy": 1800, "hourly": 3600, "frantic": MIN, "slow": MAX, "ttl": 10800,
                    "maxage": 7200, "fixed": 2700, "moving": 3600}
            for name in names:
                f = fs[name]
                wait = epoch(f["next_fetch"]) - epoch(f["last_fetch"])
                lo, hi = want[name] * 0.9 - 2, want[name] * 1.1 + 2
                h.check(f["state"] == "ok" and lo <= wait <= hi,
                        f"{name}: next fetch in {wait:.0f}s, expected {want[name]}s +-10% "
                        f"({f['items_per_week']} items a week)")
            ttls = {n: fs[n]["ttl"] for n in names}
            h.check(ttls == {n: 10800 if n == "ttl" else None for n in names},
                    f"the feeds' <ttl> is kept in their state ({ttls})")
            rates = {n: fs[n]["items_per_week"] for n in names}
            h.check(abs(rates["busy"] - 336) < 2 and abs(rates["hourly"] - 168) < 2
                    and abs(rates["slow"] - 1) < 0.1, f"rates from the published dates ({rates})")

            # Restart as a daemon with three feeds past due, one of them moved meanwhile to a URL
            # that serves the same file (same validators: it answers 304); the others keep their
            # next fetch.
            due = ("hourly", "ttl", "moving")
            before = {n: fs[n]["next_fetch"] for n in names}
            with sqlite3.connect(db) as c:
                c.executemany("UPDATE feeds SET next_fetch = ? WHERE name = ?",
                              [(int(time.time()) - 60, n) for n in due])
            c.close()
            with open(os.path.join(root, "hourly.moved"), "w") as f:
                f.write("/redirect/0/hourly.xml\n")
            seen = len(server.requests())
            errlog = open(os.path.join(tmp, "veilled.err"), "w+")
            proc = subprocess.Popen([h.VEILLED, "-c", conf], stderr=errlog)
            wanted = [("/hourly.xml", "304"), ("/moved-if/hourly.moved/hourly.xml", "301"),
                      ("/redirect/0/hourly.xml", "304"), ("/ttl.xml", "304")]
            try:
                fetched = lambda: sorted((r[1], r[2]) for r in server.requests()[seen:])
                h.wait_for(lambda: len(fetched()) >= len(wanted), 15)
                h.check(fetched() == wanted,
                        f"the feeds past due are fetched right after the restart, with their "
                        f"validators ({fetched()})")
                time.sleep(2)  # room for a wrongly scheduled fetch to show up
                h.check(proc.poll() is None, "veilled keeps running")
            finally:
                h.stop_process(proc)
            later = sorted((r[1], r[2]) for r in server.requests()[seen:])
            h.check(later == wanted, f"no feed that was not due is fetched after the restart ({later})")
            fs2 = feeds_json(conf)
            for name in names:
                if name not in due:
                    h.check(fs2[name]["next_fetch"] == before[name],
                            f"{name}: next fetch unchanged across the restart ({fs2[name]['next_fetch']})")
            for name, expect in (("hourly", 3600), ("moving", 3600), ("ttl", 10800)):
                nf = epoch(fs2[name]["next_fetch"]) - time.time()
                h.check(expect * 0.9 - 30 <= nf <= expect * 1.1,
                        f"{name}: after a 304 the stored rate and <ttl> still set the next fetch "
                        f"(in {nf:.0f}s, expected {expect}s +-10%)")
            mv = fs2["moving"]
            h.check(mv["url"] == f"{b}/redirect/0/hourly.xml" and mv["moved"]
                    and mv["config_url"] == f"{b}/moved-if/hourly.moved/hourly.xml" and mv["state"] == "ok",
                    f"moving: the move that ended in a 304 is recorded ({mv})")
            errlog.seek(0)
            err = errlog.read()
            h.check("ERROR" not in err and "AddressSanitizer" not in err, f"no error logged ({err[-300:]})")
            moved = [l for l in err.splitlines() if "moved permanently" in l]
            h.check(len(moved) == 1 and "feed moving: moved permanently from " in moved[0]
                    and "not modified (304)" in moved[0],
                    f"the move is logged once, with the 304 ({moved})")
        finally:
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
