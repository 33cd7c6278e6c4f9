"""Alerts in the systemd journal: a private journald receives veilled's alerts with the fixed
MESSAGE_ID and the VEILLE_* fields; `journalctl MESSAGE_ID=...` lists exactly one entry per
relevant item, at PRIORITY=4 (warning) when the score reaches the topic's high-confidence mark
(threshold + (1 - threshold) / 2) and PRIORITY=5 (notice) below it. systemd/veille.catalog,
indexed by `journalctl --update-catalog` in a private root, makes `journalctl -x` explain them."""

import os
import re
import shutil
import subprocess

import harness as h
from corpus import NEAR_THRESHOLD, ON_TOPIC, OFF_TOPIC
from feedgen import WRITERS, item

MESSAGE_ID = re.search(r'#define ALERT_MESSAGE_ID "([0-9a-f]{32})"',
                       open(os.path.join(h.SOURCE_DIR, "daemon", "alert.h")).read()).group(1)

HOST_CATALOG = "/var/lib/systemd/catalog"


def explain_alerts(tmp):
    """Indexes the catalog in a private root holding this journal, then reads the alerts with -x."""
    root = os.path.join(tmp, "root")
    catdir = os.path.join(root, "usr", "lib", "systemd", "catalog")
    os.makedirs(catdir)
    shutil.copy(os.path.join(h.SOURCE_DIR, "systemd", "veille.catalog"), catdir)
    shutil.copytree(os.path.join(tmp, "journal"), os.path.join(root, "var", "log", "journal"))
    p = subprocess.run(["journalctl", f"--root={root}", "--update-catalog"], capture_output=True, text=True)
    h.check(p.returncode == 0 and p.stderr == "", f"journalctl --update-catalog accepts veille.catalog {p.stderr!r}")
    p = subprocess.run(["journalctl", f"--root={root}", "--list-catalog"], capture_output=True, text=True)
    h.check(p.stdout.startswith(f"{MESSAGE_ID} veille: "), f"--list-catalog lists the alert: {p.stdout!r}")
    # journalctl -x reads the host's catalog index whatever --root says: show it this one, in a
    # mount namespace of its own.
    if not os.path.isdir(HOST_CATALOG):
        print(f"note: {HOST_CATALOG} is missing here, journalctl -x is not checked")
        return
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                        'mount --bind "$1" "$2" && shift 2 && exec "$@"', "sh",
                        os.path.join(root, "var", "lib", "systemd", "catalog"), HOST_CATALOG,
                        "journalctl", f"--root={root}", "-x", "--no-pager", "-o", "short",
                        f"MESSAGE_ID={MESSAGE_ID}", f"VEILLE_TITLE={ON_TOPIC[0][0]}"],
                       capture_output=True, text=True)
    out = p.stdout
    h.check("Subject: Alert: new article on belarus-border from feed journal-feed" in out,
            f"journalctl -x shows the catalog's subject with the entry's fields:\n{out}")
    h.check(ON_TOPIC[0][0] in out and "https://j.example.fr/0" in out and "@VEILLE_" not in out,
            "the explanation names the article's title and URL")
    h.check("Documentation: man:veilled(8)" in out, "the explanation points at veilled(8)")


def main():
    with h.TempDir() as tmp:
        journal = h.Journal(tmp)
        root = os.path.join(tmp, "feeds")
        os.mkdir(root)
        # ON_TOPIC[0] scores far above the high-confidence mark, NEAR_THRESHOLD between the
        # threshold and the mark: both priorities are exercised.
        stories = [ON_TOPIC[0], OFF_TOPIC[1], NEAR_THRESHOLD, OFF_TOPIC[2]]
        with open(os.path.join(root, "f.xml"), "w") as f:
            f.write(WRITERS["atom"]("journal", [item(s, f"urn:j:{i}", f"https://j.example.fr/{i}", i)
                                               for i, s in enumerate(stories)]))
        server = h.FeedServer(root, tmp)
        try:
            db = os.path.join(tmp, "veille.db")
            conf = os.path.join(tmp, "veille.conf")
            h.write_config(conf, db, [("journal-feed", f"{server.base}/f.xml")], extra="alerts = auto\n")
            p = journal.run([h.VEILLED, "-c", conf, "--once"])
            h.check(p.returncode == 0, f"veilled --once exits 0 ({p.stderr.strip()[-300:]})")
            alerts = journal.entries(f"MESSAGE_ID={MESSAGE_ID}")
            h.check(len(alerts) == 2, f"two alerts in the journal ({len(alerts)})")
            titles = sorted(a.get("VEILLE_TITLE") for a in alerts)
            h.check(titles == sorted([ON_TOPIC[0][0], NEAR_THRESHOLD[0]]), f"VEILLE_TITLE of the relevant items: {titles}")
            threshold = float(h.shipped_threshold())
            mark = threshold + (1 - threshold) / 2
            prios = sorted(a.get("PRIORITY") for a in alerts)
            h.check(prios == ["4", "5"], f"one warning and one notice: {prios} "
                    f"(scores {[a.get('VEILLE_SCORE') for a in alerts]}, mark {mark:.4f})")
            for a in alerts:
                h.check(a.get("VEILLE_TOPIC") == "belarus-border", "VEILLE_TOPIC")
                h.check(a.get("VEILLE_FEED") == "journal-feed", "VEILLE_FEED")
                h.check(a.get("VEILLE_URL", "").startswith("https://j.example.fr/"), "VEILLE_URL")
                h.check(0 < float(a.get("VEILLE_SCORE", "0")) <= 1, f"VEILLE_SCORE {a.get('VEILLE_SCORE')}")
                h.check(a.get("VEILLE_ITEM", "").isdigit(), "VEILLE_ITEM is the stored item's id")
                h.check(a.get("VEILLE_TERMS", "").startswith("[["), "VEILLE_TERMS explain the verdict")
                h.check(a.get("SYSLOG_IDENTIFIER") == "veilled", "SYSLOG_IDENTIFIER=veilled")
                want = "4" if float(a.get("VEILLE_SCORE", "0")) >= mark else "5"
                h.check(a.get("PRIORITY") == want, f"PRIORITY {a.get('PRIORITY')} for score {a.get('VEILLE_SCORE')}")
                h.check(a.get("MESSAGE", "").startswith("ALERT topic=belarus-border score="), "MESSAGE is the alert line")
            explain_alerts(tmp)
            # A second cycle alerts nothing new.
            p = journal.run([h.VEILLED, "-c", conf, "--once"])
            h.check(p.returncode == 0, "second cycle exits 0")
            h.check(len(journal.entries(f"MESSAGE_ID={MESSAGE_ID}")) == 0,
                    "second cycle (a fresh journal) holds no alert")
        finally:
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
