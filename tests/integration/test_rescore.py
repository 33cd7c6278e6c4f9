"""veillectl rescore against a real SQLite file filled by veilled --once from a local feed:
verdicts follow a changed threshold, what changed is printed, alerts are queued only with
--alert and only for items never alerted, and the daemon sends them at its next start."""

import os
import sqlite3
import subprocess

import harness as h
from corpus import ON_TOPIC, OFF_TOPIC
from feedgen import write_stories


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def verdicts(db):
    with sqlite3.connect(db) as c:
        return dict(c.execute("SELECT item_id, relevant FROM verdicts WHERE topic = 'belarus-border'"))


def alert_rows(db):
    with sqlite3.connect(db) as c:
        return {r[0]: r[1] for r in c.execute("SELECT item_id, sent FROM alerts")}


def main():
    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.mkdir(root)
        stories = ON_TOPIC + OFF_TOPIC
        write_stories(os.path.join(root, "all.xml"), "Test", stories, "urn:t",
                      "https://n.example.fr")
        server = h.FeedServer(root, tmp)
        try:
            db = os.path.join(tmp, "v.db")
            conf = os.path.join(tmp, "v.conf")

            def configure(threshold):
                h.write_config(conf, db, [("all", f"{server.base}/all.xml")],
                               extra="alerts = none\n", threshold=threshold)

            shipped = h.shipped_threshold()
            # Ingested with a threshold nothing reaches: no item relevant, no alert.
            configure("0.999")
            p = run([h.VEILLED, "-c", conf, "--once"])
            h.check(p.returncode == 0, f"veilled --once exits 0 ({p.stderr.strip()[-300:]})")
            v0 = verdicts(db)
            h.check(len(v0) == len(stories) and not any(v0.values()),
                    f"every item judged, none relevant ({len(v0)})")
            h.check(not alert_rows(db), "no alert")

            # The first rescore may move scores (the corpus's document frequencies now count);
            # a second one with nothing changed reports nothing.
            run([h.VEILLECTL, "-c", conf, "rescore"])
            p = run([h.VEILLECTL, "-c", conf, "rescore"])
            h.check(p.returncode == 0 and "0 changed" in p.stdout,
                    f"rescore with nothing changed changes nothing: {p.stdout.strip()}")

            # The shipped threshold without --alert: the on-topic items become relevant, each is
            # listed, no alert is queued.
            configure(shipped)
            p = run([h.VEILLECTL, "-c", conf, "rescore", "--topic", "belarus-border"])
            v1 = verdicts(db)
            raised = {i for i in v1 if v1[i]}
            listed = [l for l in p.stdout.splitlines() if "not relevant" in l and "-> relevant" in l]
            h.check(p.returncode == 0 and len(raised) == len(ON_TOPIC) and len(listed) == len(raised),
                    f"threshold {shipped}: {len(raised)} items became relevant, each listed: {p.stdout.strip()}")
            h.check(f"{len(raised)} became relevant" in p.stdout and "0 alerts queued" in p.stdout,
                    "the summary counts them; no alert queued")
            h.check(not alert_rows(db), "without --alert no alert is queued")

            # Stricter again: listed as no longer relevant.
            configure("0.999")
            p = run([h.VEILLECTL, "-c", conf, "rescore"])
            h.check(p.returncode == 0 and f"{len(raised)} no longer relevant" in p.stdout
                    and p.stdout.count("relevant ") >= len(raised) and not any(verdicts(db).values()),
                    f"threshold 0.999: no longer relevant: {p.stdout.strip()}")

            # With --alert: one alert per item that became relevant, pending until the daemon runs.
            configure(shipped)
            p = run([h.VEILLECTL, "-c", conf, "rescore", "--alert"])
            a = alert_rows(db)
            h.check(p.returncode == 0 and set(a) == raised and all(v is None for v in a.values()),
                    f"--alert queues {len(a)} alerts, pending")
            h.check(f"{len(raised)} alerts queued" in p.stdout
                    and p.stdout.count("(alert queued)") == len(raised),
                    "the output says which alerts were queued")
            p = run([h.VEILLED, "-c", conf, "--once"])
            a = alert_rows(db)
            h.check(p.returncode == 0 and set(a) == raised and all(a.values()),
                    "veilled sends the queued alerts")

            # An item alerted once is not alerted again, even with --alert.
            configure("0.999")
            run([h.VEILLECTL, "-c", conf, "rescore"])
            configure(shipped)
            p = run([h.VEILLECTL, "-c", conf, "rescore", "--alert"])
            h.check(p.returncode == 0 and "0 alerts queued" in p.stdout and alert_rows(db) == a,
                    f"old items are not alerted twice: {p.stdout.strip().splitlines()[-1]}")

            p = run([h.VEILLECTL, "-c", conf, "rescore", "--topic", "nope"])
            h.check(p.returncode == 1 and "nope" in p.stderr, "an unknown topic is an error naming it")
            p = run([h.VEILLECTL, "-c", conf, "rescore", "extra"])
            h.check(p.returncode == 2, "an extra argument is a usage error")
        finally:
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
