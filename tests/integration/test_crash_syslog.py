"""Crash safety with syslog as the alert sink: veilled is killed with SIGKILL at random moments
(seeded, the seed is printed; VEILLE_CRASH_SEED repeats a run) 30 times while it ingests growing
feeds, alerts going to a private rsyslogd. Syslog cannot be read back, so delivery is
at-least-once: no relevant item may go unalerted, and a kill can repeat at most the one alert it
interrupted between sending and marking. Alerts marked unsent by hand are sent again, and the
daemon says so."""

import os
import subprocess

import crashlib as c
import harness as h

KILLS = 30
BUDGET_S = 120
UNMARK = 4


def main():
    seed = c.seed_from_env()
    print(f"seed {seed} (VEILLE_CRASH_SEED={seed} repeats this run)")
    with h.TempDir() as tmp:
        syslog = h.Syslog(tmp)
        feeds = c.setup(tmp, seed)
        server = h.FeedServer(feeds.root, tmp)
        try:
            conf, db = c.write_conf(tmp, server.base, feeds, "syslog")
            log = os.path.join(tmp, "veilled.log")
            s = c.kill_rounds(feeds, conf, db, seed, syslog.command, KILLS, BUDGET_S, log)
            print(f"seed {seed}: {s['rounds']} runs, {s['kills']} killed, {s['completed']} completed "
                  f"before their kill, {s['seconds']}s")
            h.check(s["kills"] >= 30, f"at least 30 kills ({s['kills']})")
            with open(log, "a") as logf:
                rc = subprocess.run(syslog.command([h.VEILLED, "-c", conf, "--once"]), stdout=logf,
                                    stderr=logf, timeout=120).returncode
            h.check(rc == 0, "the clean run exits 0")
            c.check_store(db, s, s["served"])
            rel, _ = c.alerts_expected(db)
            want, counted = c.syslog_alerts(syslog, rel)
            h.wait_for(lambda: set(counted()) >= want, 5)
            count = counted()
            h.check(set(count) == want, f"every relevant story alerted once ({len(want)} relevant, {len(count)} alerted; "
                    f"missing {sorted(want - set(count))[:3]}, unknown {sorted(set(count) - want)[:3]})")
            extra = sum(n - 1 for n in count.values())
            h.check(extra <= s["kills"], f"at most one repeated alert per kill ({extra} repeats, {s['kills']} kills)")
            print(f"{extra} alerts repeated after {s['kills']} kills")

            pick = c.unmark(db, UNMARK, seed)
            before = sum(count.values())
            with open(log, "a") as logf:
                rc = subprocess.run(syslog.command([h.VEILLED, "-c", conf, "--once"]), stdout=logf,
                                    stderr=logf, timeout=120).returncode
            h.check(rc == 0, "the run after unmarking exits 0")
            h.wait_for(lambda: sum(counted().values()) >= before + UNMARK, 5)
            after = counted()
            h.check(all(after[k] == count[k] + 1 for k in map(tuple, pick)) and
                    sum(after.values()) == before + UNMARK,
                    f"the {UNMARK} unmarked alerts are sent again, and nothing else")
            notes = c.restart_notes(log)
            h.check(any(f"{UNMARK} left pending by an unclean stop sent now, without knowing" in l and
                        "syslog cannot be read back" in l for l in notes),
                    "the daemon says it could not check syslog")
        finally:
            server.stop()
            syslog.stop()
    h.finish()


if __name__ == "__main__":
    main()
