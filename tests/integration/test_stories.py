"""Deduplication end to end: veilled --once against local feeds carrying one story several ways.

- an exact copy in another feed, under a link with tracking parameters: one item, two sources;
- one wire dispatch (a reference article) rewritten by two other outlets (own headline, own first
  sentence, trailers): one story of three items, one alert;
- seeds 002 and 004, two articles written separately about the January 2023 troop train: two
  stories, two alerts (SimHash groups shared text, not shared events);
- then a second cycle where one relevant item is edited (a revision, no second alert) and an
  off-topic item is edited into an on-topic one (relevant for the first time: one alert)."""

import glob
import json
import os
import re
import sqlite3
import subprocess

import harness as h
from corpus import ON_TOPIC, OFF_TOPIC
from feedgen import WRITERS, item


def seed(prefix):
    (path,) = glob.glob(os.path.join(h.SOURCE_DIR, "conf", "reference", f"{prefix}_*.txt"))
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def without_first_sentence(text):
    return re.split(r"(?<=\.)\s+", text, maxsplit=1)[1]


def write_feeds(root, edited):
    wire = seed("003")
    body = without_first_sentence(wire)
    on0 = ON_TOPIC[0]
    off0 = OFF_TOPIC[0]
    if edited:
        on0 = (on0[0], on0[1] + " Des colonnes de blindés ont été filmées près de Mozyr.")
        off0 = (off0[0], "Correction : " + ON_TOPIC[2][1])
    feeds = {
        "a": ("rss2", [item(("La Biélorussie déplace des troupes vers la frontière", wire),
                            "urn:a:wire", "https://a.example.fr/wire", 1),
                       item(on0, "urn:a:on0", "https://a.example.fr/on0", 2),
                       item(off0, "urn:a:off0", "https://a.example.fr/off0", 3)]),
        "b": ("atom", [item(("Loukachenko envoie missiles et soldats vers l'Ukraine",
                             "Selon l'agence, Minsk renforce sa frontière sud. " + body),
                            "urn:b:wire", "https://b.example.fr/wire", 4),
                       item(ON_TOPIC[0], "urn:b:on0",
                            "https://A.example.fr/on0?utm_source=rss&xtor=RSS-3#top", 5)]),
        "c": ("rdf", [item(("Frontière : Minsk muscle son dispositif",
                            "Le Bélarus envoie des renforts vers l'Ukraine. " + body +
                            "\nSource link"),
                           "https://c.example.fr/wire", "https://c.example.fr/wire", 6),
                      item(("Un train de troupes russes arrive en Biélorussie", seed("002")),
                           "https://c.example.fr/t002", "https://c.example.fr/t002", 7)]),
        "d": ("rss2", [item(("Minsk reçoit un train de matériel russe", seed("004")),
                            "urn:d:t004", "https://d.example.fr/t004", 8)]),
    }
    names = []
    for k, (kind, items) in feeds.items():
        with open(os.path.join(root, f"{k}.xml"), "w", encoding="utf-8") as f:
            f.write(WRITERS[kind](f"Feed {k}", items))
        names.append((f"feed-{k}", f"{k}.xml"))
    return names


def run_once(syslog, conf, what):
    p = subprocess.run(syslog.command([h.VEILLED, "-c", conf, "--once"]), capture_output=True,
                       text=True, timeout=120)
    h.check(p.returncode == 0, f"{what}: veilled --once exits 0 ({p.stderr.strip()[-300:]})")


def items(conf):
    p = subprocess.run([h.VEILLECTL, "-c", conf, "items", "--json"], capture_output=True, text=True,
                       timeout=60)
    h.check(p.returncode == 0, f"veillectl items --json exits 0 ({p.stderr.strip()})")
    return {i["title"]: i for i in map(json.loads, p.stdout.splitlines())}


def main():
    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.mkdir(root)
        names = write_feeds(root, edited=False)
        server = h.FeedServer(root, tmp)
        syslog = h.Syslog(tmp)
        try:
            db = os.path.join(tmp, "veille.db")
            conf = os.path.join(tmp, "veille.conf")
            h.write_config(conf, db, [(n, f"{server.base}/{f}") for n, f in names],
                           extra="alerts = syslog\n")
            run_once(syslog, conf, "first cycle")
            got = items(conf)
            h.check(len(got) == 7, f"7 items stored for 9 delivered (got {len(got)}: {sorted(got)})")
            with sqlite3.connect(db) as c:
                n = c.execute("select count(*) from sources s join items i on i.id = s.item_id"
                              " where i.title = ?", (ON_TOPIC[0][0],)).fetchone()[0]
            h.check(n == 2, f"the exact copy under a tracking URL is a second source ({n})")
            wire = got["La Biélorussie déplace des troupes vers la frontière"]
            rewrites = [got["Loukachenko envoie missiles et soldats vers l'Ukraine"],
                        got["Frontière : Minsk muscle son dispositif"]]
            h.check(all(r["story"] == wire["id"] and r["story_size"] == 3 for r in rewrites + [wire]),
                    f"the wire story and its two rewrites are one story of 3 "
                    f"({[(r['id'], r['story'], r['story_size']) for r in rewrites + [wire]]})")
            t002 = got["Un train de troupes russes arrive en Biélorussie"]
            t004 = got["Minsk reçoit un train de matériel russe"]
            h.check(t002["story"] != t004["story"] and t002["story_size"] == t004["story_size"] == 1,
                    "seeds 002 and 004 stay two stories")
            h.wait_for(lambda: len(syslog.alerts()) >= 4, 5)
            lines = syslog.alerts()
            titles = [re.search(r'title="([^"]*)"', l).group(1) for l in lines]
            h.check(len(lines) == 4, f"4 alerts: wire story, on-topic story, 002, 004 (got {titles})")
            h.check(sum("troupes vers la frontière" in t or "Loukachenko envoie" in t or
                        "Minsk muscle" in t for t in titles) == 1, "the wire story alerts once")
            h.check(sum(t == ON_TOPIC[0][0] for t in titles) == 1, "the copied story alerts once")

            # A member of the alerted wire story that becomes relevant again under rescore --alert
            # queues no alert: a story alerts once per topic there too.
            with sqlite3.connect(db) as c:
                alerted = [r[0] for r in c.execute("select item_id from alerts")]
                member = next(r["id"] for r in rewrites + [wire] if r["id"] not in alerted)
                c.execute("update verdicts set relevant = 0, score = 0 where item_id = ?",
                          (member,))
            p = subprocess.run([h.VEILLECTL, "-c", conf, "rescore", "--alert"],
                               capture_output=True, text=True, timeout=120)
            with sqlite3.connect(db) as c:
                again = c.execute("select relevant from verdicts where item_id = ?",
                                  (member,)).fetchone()
                queued = c.execute("select count(*) from alerts where item_id = ?",
                                   (member,)).fetchone()[0]
            h.check(p.returncode == 0 and again == (1,) and queued == 0,
                    f"rescore --alert makes the story's member relevant again, queues no alert "
                    f"for its story ({p.returncode}, {again}, {queued} queued; {p.stdout.strip()})")

            write_feeds(root, edited=True)
            run_once(syslog, conf, "second cycle, two items edited")
            got2 = items(conf)
            h.check(len(got2) == 7, f"edits store no new item ({len(got2)})")
            on0 = got2[ON_TOPIC[0][0]]
            h.check(on0["revisions"] == 1 and on0["updated"] and "Mozyr" in (on0["summary"] or ""),
                    f"the edited item holds its new text, one revision kept ({on0['revisions']})")
            off0 = got2[OFF_TOPIC[0][0]]
            h.check(off0["relevant"] and off0["revisions"] == 1,
                    "the off-topic item edited into an on-topic one is relevant now")
            h.wait_for(lambda: len(syslog.alerts()) >= 5, 5)
            h.wait_for(lambda: False, 1)
            lines = syslog.alerts()
            new = lines[4:]
            h.check(len(new) == 1 and OFF_TOPIC[0][0] in new[0],
                    f"one new alert, for the item relevant for the first time ({new})")
            p = subprocess.run([h.VEILLECTL, "-c", conf, "items"], capture_output=True, text=True)
            h.check(re.search(rf"#{wire['id']}/3 ", p.stdout) is not None and "(edited)" in p.stdout,
                    "veillectl items shows story id/size and edits")
            p = subprocess.run([h.VEILLECTL, "-c", conf, "export", "--format", "jsonl"],
                               capture_output=True, text=True)
            exp = [json.loads(l) for l in p.stdout.splitlines()] if p.returncode == 0 else []
            members = [o for o in exp if o["story"] == wire["id"]]
            h.check(len(members) == 3 and all(o["story_size"] == 3 for o in members),
                    f"the export carries the story of each item ({len(members)} members)")
            h.check(any(o["updated"] for o in exp) and all("updated" in o for o in exp),
                    "the export carries when an item was edited")

            run_once(syslog, conf, "third cycle, nothing changed")
            h.wait_for(lambda: False, 1)
            h.check(len(syslog.alerts()) == 5, "an unchanged cycle alerts nothing")
            with sqlite3.connect(db) as c:
                revs = c.execute("select count(*) from revisions").fetchone()[0]
            h.check(revs == 2, f"an unchanged cycle records no revision ({revs})")
        finally:
            syslog.stop()
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
