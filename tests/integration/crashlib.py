"""Crash safety, shared by test_crash_journal and test_crash_syslog.

kill_rounds() runs `veilled --once` again and again against feeds that grow between runs, and
kills it with SIGKILL after a random delay (seeded; the seed is printed), so kills land at random
moments of start-up, fetching, ingestion and alert sending. After each kill it reads the database
the way the next start will find it and records what is committed. verify() then checks, after
one last clean run, what must hold whatever the moments of the kills were."""

import collections
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import time

import harness as h
from newsfeeds import NewsFeeds

NFEEDS = 30


def seed_from_env():
    s = os.environ.get("VEILLE_CRASH_SEED")
    return int(s) if s else random.SystemRandom().randrange(1, 2**31)


def setup(tmp, seed):
    """NFEEDS growing feeds in tmp/feeds, three items each to start with."""
    root = os.path.join(tmp, "feeds")
    os.makedirs(root, exist_ok=True)
    feeds = NewsFeeds(root, NFEEDS, random.Random(seed), border_share=0.5, prefix="crash")
    feeds.grow_all(3)
    return feeds


def write_conf(tmp, base, feeds, alerts):
    conf = os.path.join(tmp, "veille.conf")
    db = os.path.join(tmp, "veille.db")
    h.write_config(conf, db, feeds.entries(base, "{prefix}{f:03d}"),
                   extra=f"alerts = {alerts}\nmax_connections = 4\n")
    return conf, db


def snapshot(db):
    """What a restart finds: the stored guids, and feeds whose item counter disagrees with the
    items stored from them (the counter is saved in the same transaction as the items)."""
    if not os.path.exists(db):
        return set(), []
    c = sqlite3.connect(db, timeout=10)
    try:
        guids = {g for (g,) in c.execute("select guid from items")}
        bad = c.execute("select f.name, f.items, (select count(*) from items i where i.feed_id = f.id)"
                        " from feeds f where f.items != (select count(*) from items i"
                        " where i.feed_id = f.id)").fetchall()
    except sqlite3.OperationalError:
        return set(), []  # killed before the schema was committed
    finally:
        c.close()
    return guids, bad


RELEVANT = re.compile(rb"new, .* [1-9][0-9]* relevant")


def kill_after_line(p, nth, logf):
    """Kills p as soon as its nth line reporting relevant items shows; copies its stderr to logf.
    True when killed, False when p ended first."""
    seen = 0
    for line in iter(p.stderr.readline, b""):
        if RELEVANT.search(line):
            seen += 1
            if seen == nth:
                p.send_signal(signal.SIGKILL)
                logf.write(line.decode(errors="replace"))
                break
        logf.write(line.decode(errors="replace"))
    killed = seen >= nth
    p.stderr.close()
    p.wait()
    return killed and p.returncode == -signal.SIGKILL


def kill_rounds(feeds, conf, db, seed, wrap, kills_wanted, budget_s, log):
    """Grows some feeds, starts veilled (argv wrapped by wrap), kills it at a random moment;
    until kills_wanted kills or budget_s seconds. Returns a summary dict."""
    r = random.Random(seed ^ 0x5eed)
    t0 = time.monotonic()
    kills = completed = rounds = 0
    snaps = []
    with open(log, "a") as logf:
        while kills < kills_wanted and time.monotonic() - t0 < budget_s:
            rounds += 1
            for f in r.sample(range(NFEEDS), r.randint(4, 20)):
                feeds.grow(f, r.randint(1, 8))
            # Half the runs are killed after a random delay; the other half right after the
            # k-th "... N relevant" line, which is logged between a commit and the sending of
            # its alerts, so those kills often land amid alert sending.
            targeted = r.random() < 0.5
            delay = r.uniform(0.0, 0.35)
            nth = r.randint(1, 6)
            logf.write(f"--- round {rounds}: kill " +
                       (f"after relevant line {nth}\n" if targeted else f"after {delay:.3f}s\n"))
            logf.flush()
            p = subprocess.Popen(wrap([h.VEILLED, "-c", conf, "--once"]), stdout=logf,
                                 stderr=subprocess.PIPE if targeted else logf)
            if targeted and kill_after_line(p, nth, logf):
                kills += 1
            elif targeted:
                completed += 1
            else:
                try:
                    p.wait(delay)
                    completed += 1
                except subprocess.TimeoutExpired:
                    p.send_signal(signal.SIGKILL)
                    p.wait()
                    kills += 1
            guids, bad = snapshot(db)
            snaps.append({"round": rounds, "killed": p.returncode == -signal.SIGKILL,
                          "guids": sorted(guids), "bad_counters": bad})
    return {"seed": seed, "rounds": rounds, "kills": kills, "completed": completed,
            "seconds": round(time.monotonic() - t0, 1), "snapshots": snaps,
            "served": sorted(feeds.served)}


def check_store(db, summary, feeds_served):
    """Integrity, durability and exactly-once storage. Returns the final guid set."""
    c = sqlite3.connect(db)
    h.check(c.execute("pragma integrity_check").fetchone()[0] == "ok", "PRAGMA integrity_check is ok")
    h.check(c.execute("pragma foreign_key_check").fetchall() == [], "no dangling foreign key")
    n, nguid, nhash = c.execute("select count(*), count(distinct guid), count(distinct hash) from items").fetchone()
    h.check(n == nguid == nhash, f"no item stored twice ({n} rows, {nguid} guids, {nhash} hashes)")
    final = {g for (g,) in c.execute("select guid from items")}
    served = set(feeds_served)
    h.check(final == served, f"every item served is stored, and nothing else ({len(final)} stored, "
            f"{len(served)} served; missing {sorted(served - final)[:5]}, extra {sorted(final - served)[:5]})")
    # Durability: what a restart found committed is still there at every later restart.
    prev, lost = set(), []
    for s in summary["snapshots"]:
        g = set(s["guids"])
        if prev - g:
            lost.append((s["round"], len(prev - g)))
        prev = g
    h.check(not lost and prev <= final, f"no committed item ever lost across {len(summary['snapshots'])} restarts ({lost[:3]})")
    bad = [(s["round"], s["bad_counters"]) for s in summary["snapshots"] if s["bad_counters"]]
    h.check(not bad, f"after every kill each feed's stored item counter matches its stored items ({bad[:2]})")
    fbad = c.execute("select count(*) from feeds where items != (select count(*) from items i"
                     " where i.feed_id = feeds.id)").fetchone()[0]
    h.check(fbad == 0, "final feed counters match")
    c.close()
    return final


def alerts_expected(db):
    """(item_id, topic, title) of the alert each relevant story owes (one per story and topic: its
    first relevant item), after checking the alerts table holds exactly those, none unsent."""
    c = sqlite3.connect(db)
    rel = c.execute("select min(v.item_id), v.topic, i.title from verdicts v join items i"
                    " on i.id = v.item_id where v.relevant"
                    " group by coalesce(i.story, i.id), v.topic").fetchall()
    queued = {(i, t) for i, t in c.execute("select item_id, topic from alerts")}
    unsent = c.execute("select count(*) from alerts where sent is null").fetchone()[0]
    origin = c.execute("select value from meta where key = 'origin'").fetchone()
    c.close()
    h.check({(i, t) for i, t, _ in rel} == queued, f"an alert queued for every relevant story ({len(rel)} relevant, {len(queued)} queued)")
    h.check(unsent == 0, f"no alert left unsent after a clean run ({unsent})")
    return rel, origin[0] if origin else None


SYSLOG_ALERT = re.compile(r'veilled\[\d+\]: ALERT topic=(\S+) .* title="(.*)"$')


def syslog_alerts(syslog, rel):
    """For rel as alerts_expected returns it: the set of (item_id, topic) owed an alert, and a
    function counting the ALERT lines syslog holds by (item_id, topic), a title not in rel as
    ("?", title)."""
    by_title = {title: (i, t) for i, t, title in rel}

    def counted():
        n = collections.Counter()
        for line in syslog.lines():
            m = SYSLOG_ALERT.search(line)
            if m:
                n[by_title.get(m.group(2).replace('\\"', '"'), ("?", m.group(2)))] += 1
        return n

    return set(by_title.values()), counted


def unmark(db, n, seed):
    """Marks n sent alerts unsent again: the state a kill between sending and marking leaves."""
    c = sqlite3.connect(db)
    rows = c.execute("select item_id, topic from alerts order by item_id").fetchall()
    pick = random.Random(seed).sample(rows, min(n, len(rows)))
    with c:
        for i, t in pick:
            c.execute("update alerts set sent = null where item_id = ? and topic = ?", (i, t))
    c.close()
    return pick


def restart_notes(log):
    """The start-up notices about pending alerts, from the logs of every run."""
    out = []
    with open(log, errors="replace") as f:
        for l in f:
            if "left pending by an unclean stop" in l:
                out.append(l.strip())
    return out


def save(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


def load(path):
    with open(path) as f:
        return json.load(f)
