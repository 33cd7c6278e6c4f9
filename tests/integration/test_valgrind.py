"""valgrind memcheck over a full cycle: `veilled --once` under `valgrind --error-exitcode=1
--leak-check=full` against the fixture server, cold (every feed new, items stored, alerts sent),
then warm (every feed a 304), then once more with alerts left pending and the journal as the sink
(the start-up look-up of pending alerts in a private journald). Each run must exit 0 with no
memcheck error and no leak. Labelled `valgrind` in CTest (ctest -LE valgrind skips it); skipped
when valgrind is absent or the build is sanitized (valgrind cannot run ASan binaries)."""

import os
import random
import shutil
import sqlite3
import subprocess
import time

import harness as h
from newsfeeds import NewsFeeds

VALGRIND = ["valgrind", "--error-exitcode=1", "--leak-check=full", "--errors-for-leak-kinds=definite,possible",
            "--show-leak-kinds=definite,possible", "--track-fds=no", "--quiet"]


def run(argv, what, tmp, wrap=None):
    t0 = time.monotonic()
    log = os.path.join(tmp, f"valgrind-{what}.log")
    full = VALGRIND + [f"--log-file={log}"] + argv
    p = subprocess.run(wrap(full) if wrap else full, capture_output=True, text=True, timeout=280)
    took = time.monotonic() - t0
    report = open(log, errors="replace").read() if os.path.exists(log) else ""
    why = "" if p.returncode == 0 else f" (got {p.returncode}: {report.strip()[-1500:] or p.stderr.strip()[-500:]})"
    h.check(p.returncode == 0, f"{what}: exit 0 under memcheck in {took:.1f}s{why}")
    h.check("definitely lost" not in report and "Invalid" not in report, f"{what}: no memcheck report")
    return p


def main():
    if not shutil.which("valgrind"):
        h.skip("valgrind is not installed (scripts/setup installs it)")
    if os.environ.get("VEILLE_SANITIZED", "0") not in ("", "0", "OFF", "FALSE"):
        h.skip("a sanitized build cannot run under valgrind")
    t0 = time.monotonic()
    with h.TempDir() as tmp:
        os.mkdir(os.path.join(tmp, "feeds"))
        feeds = NewsFeeds(os.path.join(tmp, "feeds"), 5, random.Random(9), border_share=0.4, prefix="vg")
        feeds.grow_all(5)
        server = h.FeedServer(feeds.root, tmp)
        try:
            db = os.path.join(tmp, "veille.db")
            conf = os.path.join(tmp, "veille.conf")
            fl = feeds.entries(server.base)
            fl += [("vg-missing", f"{server.base}/missing.xml"),
                   ("vg-redirect", f"{server.base}/redirect/2/{feeds.name(0)}"),
                   ("vg-refused", "http://127.0.0.1:1/feed.xml")]
            h.write_config(conf, db, fl, extra="alerts = syslog\n")
            run([h.VEILLED, "-c", conf, "--once"], "cold", tmp)
            c = sqlite3.connect(db)
            n, alerts = c.execute("select (select count(*) from items), count(*) from alerts").fetchone()
            h.check(n == 25 and alerts > 0, f"cold run stored 25 items ({n}) and sent {alerts} alerts")
            run([h.VEILLED, "-c", conf, "--once"], "warm", tmp)
            n304 = sum(1 for r in server.requests() if len(r) > 2 and r[2] == "304")
            h.check(n304 >= 5, f"warm run: 304s ({n304})")
            if os.geteuid() == 0 and shutil.which("unshare") and os.path.exists("/lib/systemd/systemd-journald"):
                with c:
                    c.execute("update alerts set sent = null where (item_id, topic) in"
                              " (select item_id, topic from alerts limit 2)")
                h.write_config(conf, db, fl, extra="alerts = journal\n")
                journal = h.Journal(tmp)
                p = run([h.VEILLED, "-c", conf, "--once"], "pending alerts, journal", tmp,
                        wrap=lambda a: ["unshare", "--mount", "--propagation", "private", "sh", journal.ns, tmp] + a)
                h.check("2 left pending by an unclean stop: 0 already in the journal, 2 sent now" in p.stderr,
                        "the pending alerts were looked up in the journal, then sent")
            else:
                print("skipped the journal part: needs root, unshare and systemd-journald")
            c.close()
        finally:
            server.stop()
    print(f"took {time.monotonic() - t0:.1f}s")
    h.finish()


if __name__ == "__main__":
    main()
