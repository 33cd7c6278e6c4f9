"""The nightly export as veille-export.service runs it: the command line is taken from the
generated unit's ExecStart (only the binary and the configuration path are swapped for the test's),
it writes a dated file in the [export] folder in the configured format, a second run the same day
gets a file of its own with nothing new in it, and dated files older than keep_days are removed
while the others (and files that are not exports) stay. An export killed (SIGKILL, from the
crash_rename shim) as it publishes its file leaves nothing in the folder, the next run exports
the same items, and a named temporary file left by an older interrupted export is swept once
stale."""

import csv
import io
import os
import re
import shlex
import subprocess
from datetime import date, timedelta

import harness as h
from corpus import ON_TOPIC, OFF_TOPIC
from feedgen import rss2, item


def main():
    build = os.environ.get("VEILLE_BUILD_DIR", "")
    unit = os.path.join(build, "systemd", "veille-export.service")
    if not os.path.exists(unit):
        h.skip(f"{unit} not generated (configure the build first)")
    m = re.search(r"^ExecStart=(.*)$", open(unit).read(), flags=re.M)
    argv = shlex.split(m.group(1))
    h.check(os.path.basename(argv[0]) == "veillectl" and argv[1] == "-c", f"ExecStart runs veillectl -c: {argv}")

    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.mkdir(root)
        stories = ON_TOPIC[:3] + OFF_TOPIC[:4]
        with open(os.path.join(root, "f.xml"), "w", encoding="utf-8") as f:
            f.write(rss2("Nightly", [item(s, f"urn:nightly:{n}", f"https://news.example.fr/n/{n}", n)
                                     for n, s in enumerate(stories)]))
        server = h.FeedServer(root, tmp)
        try:
            db = os.path.join(tmp, "state", "veille.db")
            os.mkdir(os.path.dirname(db))
            conf = os.path.join(tmp, "veille.conf")
            # No `directory =`: the exports go beside the database, as in the state folder.
            h.write_config(conf, db, [("nightly", f"{server.base}/f.xml")],
                           extra="alerts = none\n\n[export]\nformat = csv\nkeep_days = 3\n")
            p = subprocess.run([h.VEILLED, "-c", conf, "--once"], capture_output=True, text=True, timeout=120)
            h.check(p.returncode == 0, f"veilled --once exits 0 ({p.stderr.strip()[-300:]})")

            out = os.path.join(tmp, "state", "exports")
            os.mkdir(out)
            today = date.today()

            def dated(days_ago, suffix):
                return f"veille-{(today - timedelta(days=days_ago)).isoformat()}{suffix}"

            old = [dated(3, ".csv"), dated(10, ".jsonl"), dated(400, ".2.atom")]
            kept = [dated(1, ".csv"), dated(2, ".1.jsonl"), "notes.txt", dated(30, ".csv.bak"),
                    "veille-latest.csv"]
            for name in old + kept:
                with open(os.path.join(out, name), "w") as f:
                    f.write("x\n")

            cmd = [h.VEILLECTL, "-c", conf] + argv[3:]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            h.check(p.returncode == 0, f"the unit's command exits 0 ({p.stderr.strip()})")
            first = os.path.join(out, dated(0, ".csv"))
            h.check(os.path.exists(first), f"it wrote {os.path.basename(first)}")
            rows = list(csv.reader(io.StringIO(open(first, newline="").read())))
            h.check(len(rows) == len(stories) + 1, f"with every stored item ({len(rows) - 1})")
            left = set(os.listdir(out))
            h.check(not (left & set(old)), f"dated files older than 3 days removed ({sorted(left & set(old))})")
            h.check(set(kept) <= left, f"recent exports and other files kept ({sorted(set(kept) - left)})")
            h.check(all(f"removed {out}/{n}" in p.stdout for n in old), "each removal is reported")

            p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            second = os.path.join(out, dated(0, ".1.csv"))
            h.check(p.returncode == 0 and os.path.exists(second), "a second run the same day gets its own file")
            rows2 = list(csv.reader(io.StringIO(open(second, newline="").read())))
            h.check(len(rows2) == 1 and len(list(csv.reader(open(first, newline="")))) == len(stories) + 1,
                    "with nothing new in it, and the first file untouched")
            h.check(not [n for n in os.listdir(out) if n.startswith(".")], "no temporary file left behind")

            # Killed while publishing: nothing half-written stays, nothing is skipped.
            crash = os.environ.get("CRASH_RENAME", "")
            h.check(os.path.exists(crash), f"the crash_rename shim is built ({crash!r})")
            if os.path.exists(crash):
                with open(os.path.join(root, "f.xml"), "w", encoding="utf-8") as f:
                    f.write(rss2("Nightly", [item(s, f"urn:nightly:{n}", f"https://news.example.fr/n/{n}", n)
                                             for n, s in enumerate(stories + ON_TOPIC[3:5])]))
                p = subprocess.run([h.VEILLED, "-c", conf, "--once"], capture_output=True, text=True,
                                   timeout=120)
                h.check(p.returncode == 0, f"a second cycle stores two more items ({p.stderr.strip()[-300:]})")
                env = dict(os.environ, LD_PRELOAD=crash, VEILLE_CRASH_RENAME="veille-",
                           ASAN_OPTIONS="verify_asan_link_order=0:" + os.environ.get("ASAN_OPTIONS", ""))
                before = set(os.listdir(out))
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
                h.check(p.returncode == -9, f"the export is killed as it publishes its file ({p.returncode})")
                h.check(set(os.listdir(out)) == before,
                        f"the killed export left nothing behind ({sorted(set(os.listdir(out)) - before)})")
                stale = os.path.join(out, ".veille-export.Ab12Cd")
                young = os.path.join(out, ".veille-export.Ef34Gh")
                for path in (stale, young):
                    with open(path, "w") as f:
                        f.write("half an export\n")
                os.utime(stale, (0, os.path.getmtime(stale) - 2 * 86400))
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
                third = os.path.join(out, dated(0, ".2.csv"))
                rows3 = list(csv.reader(open(third, newline=""))) if os.path.exists(third) else []
                h.check(p.returncode == 0 and len(rows3) == 3,
                        f"the next run exports the two new items ({len(rows3) - 1 if rows3 else None})")
                h.check(not os.path.exists(stale) and "stale temporary file" in p.stdout,
                        f"a day-old temporary file of an interrupted export is swept ({p.stdout.strip()})")
                h.check(os.path.exists(young), "a recent one (an export still running) is left alone")
        finally:
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
