"""veillectl export on a store filled by veilled --once from local feeds: JSON Lines, CSV (read back
with Python's csv module) and Atom (parsed back by veillectl parse) carry the same records;
--since ranges and --relevant-only select the right ones; and the --since-last watermark survives a
real crash (SIGKILL inside rename(), from an LD_PRELOAD shim): the next export writes the same
items again, the one after that nothing new; edited items and items found relevant later go out
again once; and an export that moves a watermark waits while another holds the export lock."""

import csv
import fcntl
import io
import json
import os
import re
import sqlite3
import subprocess
import time
import xml.etree.ElementTree as ET

import harness as h
from corpus import ON_TOPIC, OFF_TOPIC
from feedgen import rss2, item

CRASH_RENAME = os.environ.get("CRASH_RENAME", "")
ATOM = "{http://www.w3.org/2005/Atom}"

# A story whose fields need CSV quoting and XML escaping: quotes, commas, &, and a line break
# in the text (two paragraphs).
AWKWARD = ('Minsk, Kiev et "la frontière" : tensions & manœuvres',
           'Premier paragraphe, avec une virgule et des "guillemets".</p><p>Second paragraphe '
           "sur la frontière biélorusse & ukrainienne.")


def run(argv, env=None, stdin=None):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, input=stdin)


def write_feeds(root, stories, start):
    """Two RSS feeds holding stories[start:]; each story keeps its guid across rewrites."""
    halves = ([], [])
    for n, s in enumerate(stories):
        halves[n % 2].append(item(s, f"urn:export-test:{n}", f"https://news.example.fr/a/{n}", n))
    for k in (0, 1):
        with open(os.path.join(root, f"f{k}.xml"), "w", encoding="utf-8") as f:
            f.write(rss2(f"Export feed {k}", halves[k]))


def cycle(conf):
    p = run([h.VEILLED, "-c", conf, "--once"])
    h.check(p.returncode == 0, f"veilled --once exits 0 ({p.stderr.strip()[-300:]})")


def export(conf, *args, env=None):
    return run([h.VEILLECTL, "-c", conf, "export"] + list(args), env=env)


def jsonl(text):
    return [json.loads(l) for l in text.splitlines() if l.strip()]


def exported_ids(path):
    with open(path, encoding="utf-8") as f:
        return [r["id"] for r in jsonl(f.read())]


def squash(s):
    return " ".join(s.split()) if s else s


def check_formats(conf, tmp, records):
    # CSV: header plus one row per record, every cell equal to the JSON value (nested ones as JSON).
    # Bytes, not text: Python's text mode would turn CRLF into LF before the test sees it.
    p = subprocess.run([h.VEILLECTL, "-c", conf, "export", "--format", "csv"], capture_output=True, timeout=60)
    h.check(p.returncode == 0, f"export --format csv exits 0 ({p.stderr.strip()})")
    raw = p.stdout.decode("utf-8")
    unquoted = re.sub(r'"(?:[^"]|"")*"', "", raw)
    h.check(raw.endswith("\r\n") and "\n" not in unquoted.replace("\r\n", ""),
            "CSV records end with CRLF, bare line breaks only inside quoted fields")
    rows = list(csv.reader(io.StringIO(raw, newline=""), strict=True))
    header, rows = rows[0], rows[1:]
    h.check(header[:3] == ["id", "feeds", "guid"] and "verdicts" in header and "canonical_link" in header,
            f"CSV header names the fields: {header}")
    h.check(len(rows) == len(records), f"one CSV row per record ({len(rows)} vs {len(records)})")
    h.check(all(len(r) == len(header) for r in rows), "every CSV row has every column")
    by_id = {r["id"]: r for r in records}
    mismatches = []
    for row in rows:
        rec = by_id[int(row[0])]
        for name, cell in zip(header, row):
            v = rec[name]
            if name == "feeds":
                want = " ".join(v)
            elif isinstance(v, bool):
                want = "true" if v else "false"
            elif v is None:
                want = ""
            elif isinstance(v, (list, dict)):
                want = v
                cell = json.loads(cell)
            else:
                want = str(v)
            if cell != want:
                mismatches.append((rec["id"], name))
    h.check(not mismatches, f"every CSV cell equals the JSON Lines value ({mismatches[:5]})")
    title, summary = header.index("title"), header.index("summary")
    awkward = [r for r in rows if "guillemets" in r[summary]]
    h.check(len(awkward) == 1 and '"' in awkward[0][title] and "," in awkward[0][title]
            and "\n" in awkward[0][summary],
            "a title with quotes and commas, a summary with a line break survive CSV")

    # Atom: a feed document with the required elements, parsed back by veillectl parse.
    path = os.path.join(tmp, "export.atom")
    p = export(conf, "--format", "atom", "--output", path)
    h.check(p.returncode == 0, f"export --format atom --output exits 0 ({p.stderr.strip()})")
    root = ET.parse(path).getroot()
    h.check(root.tag == ATOM + "feed", "Atom root is atom:feed")
    for tag in ("id", "title", "updated", "author"):
        h.check(root.find(ATOM + tag) is not None, f"Atom feed has {tag}")
    entries = root.findall(ATOM + "entry")
    h.check(len(entries) == len(records), f"one Atom entry per record ({len(entries)})")
    h.check(all(e.find(ATOM + t) is not None for e in entries for t in ("id", "title", "updated")),
            "every entry has id, title, updated")
    p = run([h.VEILLECTL, "parse", path])
    h.check(p.returncode == 0 and p.stderr == "", f"veillectl parse reads the export back ({p.stderr.strip()})")
    parsed = {o["id"]: o for o in jsonl(p.stdout)}
    h.check(len(parsed) == len(records), f"parse finds every entry ({len(parsed)})")
    bad = []
    for r in records:
        o = parsed.get("urn:veille:item:" + r["hash"])
        # The parser folds white space in text (a line break becomes a space).
        if not o or (o["title"], o["link"], o["published"], squash(o["summary"])) != \
                (r["title"], r["link"], r["published"], squash(r["summary"])):
            bad.append(r["id"])
    h.check(not bad, f"title, link, published and summary read back unchanged ({bad[:5]})")
    cats = [c.get("term") for e in entries for c in e.findall(ATOM + "category")]
    h.check(len(cats) == sum(1 for r in records if r["relevant"]) and set(cats) == {"belarus-border"},
            "relevant entries carry their topic as a category")


def main():
    if not os.path.exists(CRASH_RENAME):
        h.skip("the crash_rename shim is not built")
    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.mkdir(root)
        stories = ON_TOPIC[:4] + OFF_TOPIC[:6] + [AWKWARD]
        write_feeds(root, stories, 0)
        server = h.FeedServer(root, tmp)
        try:
            db = os.path.join(tmp, "veille.db")
            conf = os.path.join(tmp, "veille.conf")
            h.write_config(conf, db, [("exp-a", f"{server.base}/f0.xml"), ("exp-b", f"{server.base}/f1.xml")],
                           extra="alerts = none\n")
            p = export(conf)
            h.check(p.returncode == 1 and "no database" in p.stderr, f"no database yet: status 1 ({p.stderr.strip()})")
            cycle(conf)

            # JSON Lines: every field, every record.
            p = export(conf)
            h.check(p.returncode == 0, f"export (JSON Lines to stdout) exits 0 ({p.stderr.strip()})")
            records = jsonl(p.stdout)
            h.check(len(records) == len(stories), f"one record per stored item ({len(records)})")
            want = {"id", "feeds", "sources", "guid", "link", "canonical_link", "title", "author",
                    "published", "fetched", "summary", "content", "hash", "relevant", "verdicts"}
            h.check(all(want <= set(r) for r in records), f"records carry {sorted(want)}")
            h.check([r["id"] for r in records] == sorted(r["id"] for r in records), "oldest row first")
            h.check(all(r["feeds"] and r["sources"][0]["feed"] == r["feeds"][0] for r in records),
                    "records name their feeds and sources")
            h.check(all(len(r["verdicts"]) == 1 and r["verdicts"][0]["topic"] == "belarus-border"
                        for r in records), "records carry every topic's verdict")
            relevant = {r["title"] for r in records if r["relevant"]}
            h.check({s[0] for s in ON_TOPIC[:4]} <= relevant, "on-topic stories are relevant")
            check_formats(conf, tmp, records)

            # --relevant-only
            p = export(conf, "--relevant-only")
            rel = jsonl(p.stdout)
            h.check(p.returncode == 0 and len(rel) == len(relevant) and all(r["relevant"] for r in rel),
                    f"--relevant-only exports the {len(relevant)} relevant items ({len(rel)})")

            # --since: move half the items ten days back.
            old = [r["id"] for r in records[: len(records) // 2]]
            with sqlite3.connect(db) as c:
                c.executemany("update items set fetched = fetched - 10 * 86400 where id = ?", [(i,) for i in old])
            got = {r["id"] for r in jsonl(export(conf, "--since", "7d").stdout)}
            h.check(got == {r["id"] for r in records} - set(old), f"--since 7d leaves out the ten-day-old items")
            day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 8 * 86400))
            got = {r["id"] for r in jsonl(export(conf, "--since", day).stdout)}
            h.check(got == {r["id"] for r in records} - set(old), f"--since {day} as well")
            got = jsonl(export(conf, "--since", "30d").stdout)
            h.check(len(got) == len(records), "--since 30d takes them all")

            # The watermark.
            f1 = os.path.join(tmp, "out1.jsonl")
            p = export(conf, "--since-last", "--output", f1)
            h.check(p.returncode == 0 and exported_ids(f1) == [r["id"] for r in records],
                    f"first --since-last --output exports everything ({p.stdout.strip()})")
            h.check(not [n for n in os.listdir(tmp) if n.startswith(".out1")], "no temporary file left behind")
            p = export(conf, "--since-last")
            h.check(p.returncode == 0 and p.stdout == "", "then --since-last has nothing new")

            more = [ON_TOPIC[4], OFF_TOPIC[6], OFF_TOPIC[7]]
            write_feeds(root, stories + more, 0)
            cycle(conf)
            # Peeking at stdout does not move the watermark.
            peek = jsonl(export(conf, "--since-last").stdout)
            h.check(sorted(r["title"] for r in peek) == sorted(s[0] for s in more),
                    f"the new items follow the watermark ({len(peek)})")
            new_ids = [r["id"] for r in peek]

            env = dict(os.environ, LD_PRELOAD=CRASH_RENAME, VEILLE_CRASH_RENAME="out2",
                       ASAN_OPTIONS="verify_asan_link_order=0:" + os.environ.get("ASAN_OPTIONS", ""))
            f2 = os.path.join(tmp, "out2.jsonl")
            p = export(conf, "--since-last", "--output", f2, env=env)
            h.check(p.returncode == -9, f"the export is killed by SIGKILL inside rename() (status {p.returncode})")
            h.check(not os.path.exists(f2), "the killed export left no output file")
            h.check([n for n in os.listdir(tmp) if n.startswith(".out2.jsonl.")],
                    "the killed export had written its temporary file")
            f3 = os.path.join(tmp, "out3.jsonl")
            p = export(conf, "--since-last", "--output", f3)
            h.check(p.returncode == 0 and exported_ids(f3) == new_ids,
                    f"after the crash, --since-last exports the same items again ({p.stdout.strip()})")
            f4 = os.path.join(tmp, "out4.jsonl")
            p = export(conf, "--since-last", "--output", f4)
            h.check(p.returncode == 0 and exported_ids(f4) == [] and "exported 0 items" in p.stdout,
                    "and the one after that exports nothing new")
            # The relevant-only chain keeps its own watermark.
            f5 = os.path.join(tmp, "out5.jsonl")
            p = export(conf, "--since-last", "--relevant-only", "--output", f5)
            h.check(p.returncode == 0 and len(exported_ids(f5)) == len(relevant) + 1,
                    "--relevant-only --since-last has its own watermark")

            # A watermark past the newest item (a database restored from an older copy) is
            # brought back to it, so the items stored next are not skipped.
            with sqlite3.connect(db) as c:
                c.execute("update meta set value = '9999' where key = 'export.last_id'")
                newest = c.execute("select max(id) from items").fetchone()[0]
            f6 = os.path.join(tmp, "out6.jsonl")
            p = export(conf, "--since-last", "--output", f6)
            with sqlite3.connect(db) as c:
                wm = c.execute("select value from meta where key = 'export.last_id'").fetchone()[0]
            h.check(p.returncode == 0 and "restored" in p.stderr and exported_ids(f6) == [] and wm == str(newest),
                    f"a watermark past the newest item is brought back to it ({wm}, {exported_ids(f6)}, {p.stdout.strip()}, {p.stderr.strip()})")

            # An item stored before the last export and edited since is written again, once.
            edited = stories + more
            k = stories.index(OFF_TOPIC[2])
            edited[k] = (edited[k][0], edited[k][1] + " Correction : une précision a été ajoutée "
                         "à cet article après sa publication.")
            write_feeds(root, edited, 0)
            cycle(conf)
            f7 = os.path.join(tmp, "out7.jsonl")
            p = export(conf, "--since-last", "--output", f7)
            with open(f7, encoding="utf-8") as f:
                got = jsonl(f.read())
            h.check(p.returncode == 0 and [(r["title"], "Correction" in r["summary"], bool(r["updated"]))
                                           for r in got] == [(edited[k][0], True, True)]
                    and "1 stored before the last export and changed since" in p.stdout,
                    f"an item edited after the last export is exported again ({p.stdout.strip()})")
            f8 = os.path.join(tmp, "out8.jsonl")
            p = export(conf, "--since-last", "--output", f8)
            h.check(p.returncode == 0 and exported_ids(f8) == [],
                    f"and only once ({exported_ids(f8)})")

            # Items a topic finds relevant later (the threshold raised, rescored, then put
            # back and rescored again) go out again in both chains. Losing relevance changes
            # nothing: the items already written stay written.
            def relevant_ids():
                with sqlite3.connect(db) as c:
                    return {r[0] for r in c.execute("select item_id from verdicts where relevant")}

            def rescore(threshold):
                h.write_config(conf, db, [("exp-a", f"{server.base}/f0.xml"),
                                          ("exp-b", f"{server.base}/f1.xml")],
                               extra="alerts = none\n", threshold=threshold)
                p = run([h.VEILLECTL, "-c", conf, "rescore"])
                h.check(p.returncode == 0, f"rescore exits 0 ({p.stderr.strip()[-200:]})")

            before = relevant_ids()
            rescore(0.999)
            lost = before - relevant_ids()
            h.check(lost, f"a higher threshold leaves items irrelevant ({sorted(lost)})")
            for n, args in ((9, ["--relevant-only"]), (10, [])):
                out = os.path.join(tmp, f"out{n}.jsonl")
                p = export(conf, "--since-last", "--output", out, *args)
                h.check(p.returncode == 0 and exported_ids(out) == [],
                        f"{' '.join(args) or 'the whole chain'}: nothing to write again ({exported_ids(out)})")
            rescore(None)
            gained = relevant_ids() & lost
            h.check(gained == lost, f"the threshold put back, they are relevant again ({sorted(gained)})")
            for n, args in ((11, ["--relevant-only"]), (12, [])):
                out = os.path.join(tmp, f"out{n}.jsonl")
                p = export(conf, "--since-last", "--output", out, *args)
                h.check(p.returncode == 0 and sorted(exported_ids(out)) == sorted(gained),
                        f"{' '.join(args) or 'the whole chain'}: the items found relevant since are "
                        f"written again ({exported_ids(out)})")
            with sqlite3.connect(db) as c:
                left = c.execute("select count(*) from changes").fetchone()[0]
            h.check(left == 0, f"changes both chains have passed are forgotten ({left} left)")

            # Exports that move a watermark run one at a time: while another holds the lock
            # beside the database, one waits, says so, and starts once it is free, from the
            # watermark the other left. Exports that move none do not wait.
            more2 = [(f"Dépêche tardive {n}", OFF_TOPIC[n % len(OFF_TOPIC)][1]) for n in range(3)]
            write_feeds(root, edited + more2, 0)
            cycle(conf)
            f13 = os.path.join(tmp, "out13.jsonl")
            with open(db + "-export") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                waiting = subprocess.Popen([h.VEILLECTL, "-c", conf, "export", "--since-last", "--output", f13],
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                p = export(conf, "--since", "1d")
                h.check(p.returncode == 0 and len(jsonl(p.stdout)) > 3,
                        f"an export that moves no watermark does not wait ({p.returncode}, {p.stderr.strip()})")
                time.sleep(1.5)
                h.check(waiting.poll() is None and not os.path.exists(f13),
                        "a --since-last export waits while another holds the lock")
                fcntl.flock(lock, fcntl.LOCK_UN)
                out, err = waiting.communicate(timeout=60)
            h.check(waiting.returncode == 0 and "another export is running, waiting for it to end" in err
                    and sorted(r["title"] for r in jsonl(open(f13, encoding="utf-8").read()))
                    == sorted(t for t, _ in more2),
                    f"then it exports the new items once the lock is free ({out.strip()}, {err.strip()})")
            # A lock that cannot be had (here a folder in its place): the export says so and
            # runs without it.
            os.unlink(db + "-export")
            os.mkdir(db + "-export")
            f14 = os.path.join(tmp, "out14.jsonl")
            p = export(conf, "--since-last", "--output", f14)
            h.check(p.returncode == 0 and "cannot open the export lock" in p.stderr
                    and "exporting without it" in p.stderr and exported_ids(f14) == [],
                    f"without its lock an export still runs, and says so ({p.stderr.strip()})")
            os.rmdir(db + "-export")

            for args, what in [(["--since", "1d", "--since-last"], "--since with --since-last"),
                               (["--format", "xml"], "an unknown format"),
                               (["--output", f1, "--nightly"], "--output with --nightly"),
                               (["--since", "someday"], "a bad --since"), (["extra"], "an extra argument")]:
                p = export(conf, *args)
                h.check(p.returncode == 2 and p.stderr.count("\n") == 1, f"usage error for {what}: {p.stderr.strip()}")
            p = export(conf, "--output", os.path.join(tmp, "missing", "x.jsonl"))
            h.check(p.returncode == 1 and "missing" in p.stderr and p.stderr.count("\n") == 1,
                    f"an output folder that does not exist: status 1, one line ({p.stderr.strip()})")
        finally:
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
