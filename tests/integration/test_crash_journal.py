"""Crash safety with the journal as the alert sink: veilled is killed with SIGKILL at random
moments (seeded, the seed is printed; VEILLE_CRASH_SEED repeats a run) 40 times while it ingests
growing feeds, and restarted each time, all against one private journald. Then: the database is
intact, every item served is stored exactly once, nothing committed was ever lost, and every
relevant item was alerted exactly once in the journal (a restart looks its pending alerts up in
the journal before sending them). Last, alerts marked unsent by hand (the state a kill between
sending and marking leaves) are found in the journal and not sent again."""

import collections
import os
import re
import subprocess
import sys

import crashlib as c
import harness as h

KILLS = 40
BUDGET_S = 150
UNMARK = 6
MESSAGE_ID = re.search(r'#define ALERT_MESSAGE_ID "([0-9a-f]{32})"',
                       open(os.path.join(h.SOURCE_DIR, "daemon", "alert.h")).read()).group(1)


def inside(tmp):
    """Runs in the journal's mount namespace: every veilled run logs to the same journald."""
    p = c.load(os.path.join(tmp, "params.json"))
    feeds = c.setup(tmp, p["seed"])
    conf, db = c.write_conf(tmp, p["base"], feeds, "journal")
    log = os.path.join(tmp, "veilled.log")
    summary = c.kill_rounds(feeds, conf, db, p["seed"], lambda a: a, KILLS, BUDGET_S, log)
    with open(log, "a") as logf:
        logf.write("--- final clean run\n")
        logf.flush()
        summary["final_rc"] = subprocess.run([h.VEILLED, "-c", conf, "--once"], stdout=logf,
                                             stderr=logf, timeout=120).returncode
        summary["unmarked"] = c.unmark(db, UNMARK, p["seed"])
        logf.write("--- run after unmarking sent alerts\n")
        logf.flush()
        summary["unmark_rc"] = subprocess.run([h.VEILLED, "-c", conf, "--once"], stdout=logf,
                                              stderr=logf, timeout=120).returncode
    c.save(os.path.join(tmp, "summary.json"), summary)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--inside":
        inside(sys.argv[2])
        return
    seed = c.seed_from_env()
    print(f"seed {seed} (VEILLE_CRASH_SEED={seed} repeats this run)")
    with h.TempDir() as tmp:
        journal = h.Journal(tmp)
        os.mkdir(os.path.join(tmp, "feeds"))
        server = h.FeedServer(os.path.join(tmp, "feeds"), tmp)
        try:
            c.save(os.path.join(tmp, "params.json"), {"seed": seed, "base": server.base})
            p = journal.run([sys.executable, os.path.abspath(__file__), "--inside", tmp], timeout=280)
            if not h.check(p.returncode == 0, f"the kill loop ran ({p.stderr.strip()[-800:]})"):
                h.finish()
            s = c.load(os.path.join(tmp, "summary.json"))
            print(f"seed {seed}: {s['rounds']} runs, {s['kills']} killed, {s['completed']} completed "
                  f"before their kill, {s['seconds']}s")
            h.check(s["kills"] >= 30, f"at least 30 kills ({s['kills']})")
            h.check(s["final_rc"] == 0 and s["unmark_rc"] == 0, "the clean runs exit 0")
            db = os.path.join(tmp, "veille.db")
            c.check_store(db, s, s["served"])
            rel, origin = c.alerts_expected(db)
            h.check(bool(origin), "the database has an origin identity")
            entries = [e for e in journal.entries(f"MESSAGE_ID={MESSAGE_ID}")]
            h.check(all(e.get("VEILLE_ORIGIN") == origin for e in entries), "every alert carries the database's VEILLE_ORIGIN")
            count = collections.Counter((int(e["VEILLE_ITEM"]), e["VEILLE_TOPIC"]) for e in entries)
            want = {(i, t) for i, t, _ in rel}
            h.check(set(count) == want, f"every relevant story alerted once ({len(want)} relevant, {len(count)} alerted; "
                    f"missing {sorted(want - set(count))[:5]}, extra {sorted(set(count) - want)[:5]})")
            dups = {k: n for k, n in count.items() if n > 1}
            h.check(not dups, f"no alert sent twice ({len(entries)} journal entries; duplicates {list(dups.items())[:5]})")
            notes = c.restart_notes(os.path.join(tmp, "veilled.log"))
            found = sum(int(m.group(2)) for m in (re.search(r"(\d+) left pending.*: (\d+) already in the journal", l) for l in notes) if m)
            resent = sum(int(m.group(1)) for m in (re.search(r"journal, (\d+) sent now", l) for l in notes) if m)
            print(f"{len(notes)} restarts found pending alerts: {found} were in the journal already, {resent} sent then")
            h.check(any(f"{UNMARK} left pending by an unclean stop: {UNMARK} already in the journal, 0 sent now" in l
                        for l in notes), f"the {UNMARK} alerts marked unsent by hand are found in the journal, not resent")
            h.check(not any("without knowing" in l for l in notes), "the journal was readable at every restart")
        finally:
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
