"""The adaptive schedule, end to end. Feeds whose items' published dates show a known publishing
rate are fetched once by `veilled --once`; each feed's stored next fetch must then follow the
policy: the mean gap between items, clamped to [min_interval, max_interval], never shorter than
the feed's RSS <ttl> or the HTTP Cache-Control max-age, a per-feed `interval` used as is, all
within the +-10% jitter. Then veilled is started as a daemon after one feed was made past due:
the feed past due is fetched right away, the feeds not yet due are not (their next fetch survived
the restart), and the fetched feed gets a new next fetch in the future."""

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
                     ("maxage", f"{b}/max-age/7200/busy.xml")]
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
                    "maxage": 7200, "fixed": 2700}
            for name in names:
                f = fs[name]
                wait = epoch(f["next_fetch"]) - epoch(f["last_fetch"])
                lo, hi = want[name] * 0.9 - 2, want[name] * 1.1 + 2
                h.check(f["state"] == "ok" and lo <= wait <= hi,
                        f"{name}: next fetch in {wait:.0f}s, expected {want[name]}s +-10% "
                        f"({f['items_per_week']} items a week)")
            rates = {n: fs[n]["items_per_week"] for n in names}
            h.check(abs(rates["busy"] - 336) < 2 and abs(rates["hourly"] - 168) < 2
                    and abs(rates["slow"] - 1) < 0.1, f"rates from the published dates ({rates})")

            # Restart as a daemon with one feed past due; the others keep their next fetch.
            before = {n: fs[n]["next_fetch"] for n in names}
            with sqlite3.connect(db) as c:
                c.execute("UPDATE feeds SET next_fetch = ? WHERE name = 'hourly'", (int(time.time()) - 60,))
            c.close()
            seen = len(server.requests())
            errlog = open(os.path.join(tmp, "veilled.err"), "w+")
            proc = subprocess.Popen([h.VEILLED, "-c", conf], stderr=errlog)
            try:
                got = h.wait_for(lambda: [r for r in server.requests()[seen:] if r[1] == "/hourly.xml"], 15)
                h.check(got and got[0][2] == "304",
                        f"the feed past due is fetched right after the restart, with its validators ({got})")
                time.sleep(2)  # room for a wrongly scheduled fetch to show up
                h.check(proc.poll() is None, "veilled keeps running")
            finally:
                h.stop_process(proc)
            later = server.requests()[seen:]
            h.check([r[1] for r in later] == ["/hourly.xml"],
                    f"no feed that was not due is fetched after the restart ({[r[1] for r in later]})")
            fs2 = feeds_json(conf)
            for name in names:
                if name != "hourly":
                    h.check(fs2[name]["next_fetch"] == before[name],
                            f"{name}: next fetch unchanged across the restart ({fs2[name]['next_fetch']})")
            nf = epoch(fs2["hourly"]["next_fetch"]) - time.time()
            h.check(3600 * 0.9 - 30 <= nf <= 3600 * 1.1,
                    f"hourly: after a 304 the stored rate still sets the next fetch (in {nf:.0f}s)")
            errlog.seek(0)
            err = errlog.read()
            h.check("ERROR" not in err and "AddressSanitizer" not in err, f"no error logged ({err[-300:]})")
        finally:
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
