"""The command-line contract: veilled --check, exit statuses, one-line errors naming file and
line, and veillectl score/profile on the shipped topic."""

import json
import os
import subprocess

import harness as h
from corpus import ON_TOPIC, OFF_TOPIC

CONF = os.path.join(h.SOURCE_DIR, "conf", "veille.conf")


def run(argv, stdin=None):
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60)


def main():
    p = run([h.VEILLED, "--check", "-c", CONF])
    h.check(p.returncode == 0 and "ok" in p.stdout, f"shipped configuration checks ok: {p.stdout.strip()} {p.stderr.strip()}")

    with h.TempDir() as tmp:
        bad = os.path.join(tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write("[veille]\n"            # 1
                    "interval = soon\n"      # 2
                    "colour = blue\n"        # 3
                    "[feed a]\n"             # 4
                    "url = file:///etc/passwd\n"  # 5
                    "[feed a]\n"             # 6
                    "url = http://127.0.0.1/x\n"  # 7
                    "[topic t]\n"            # 8
                    "references = nowhere/*.txt\n"  # 9
                    "threshold = 7\n"        # 10
                    "just words\n")          # 11
        p = run([h.VEILLED, "--check", "-c", bad])
        lines = p.stderr.strip().splitlines()
        h.check(p.returncode == 1, f"--check on a broken file exits 1 (got {p.returncode})")
        for line_no, words in [(2, "duration"), (3, "unknown key"), (5, "http"), (6, "already defined"),
                               (9, "matches no file"), (10, "threshold"), (11, "key = value")]:
            h.check(any(l.startswith(f"{bad}:{line_no}: ") and words in l for l in lines),
                    f"error at line {line_no} says '{words}'")
        h.check(len(lines) == 7, f"one line per problem ({len(lines)})")
        p = run([h.VEILLED, "-c", bad, "--once"])
        h.check(p.returncode == 1, "veilled --once refuses a broken configuration with status 1")
        p = run([h.VEILLED, "--check", "-c", os.path.join(tmp, "missing.conf")])
        h.check(p.returncode == 1 and "missing.conf" in p.stderr, f"a missing file is named: {p.stderr.strip()}")

        # A database path that cannot be created: status 1, one clear line.
        dbbad = os.path.join(tmp, "dbbad.conf")
        h.write_config(dbbad, "/proc/veille/none/x.db", [("a", "http://127.0.0.1:1/x")])
        p = run([h.VEILLED, "-c", dbbad, "--once"])
        h.check(p.returncode == 1 and "x.db" in p.stderr, f"database error: status 1 ({p.stderr.strip()})")

        # The topic judges texts written for these tests (not from the labelled set).
        files = []
        for i, (title, text) in enumerate(ON_TOPIC + OFF_TOPIC):
            path = os.path.join(tmp, f"a{i:02d}.txt")
            with open(path, "w") as f:
                f.write(f"{title}\n\n{text}\n")
            files.append(path)
        p = run([h.VEILLECTL, "-c", CONF, "score"] + files)
        h.check(p.returncode == 0, f"veillectl score exits 0 ({p.stderr.strip()})")
        out = [json.loads(l) for l in p.stdout.splitlines()]
        h.check(len(out) == len(files), "one JSON object per input")
        h.check(all(set(o) >= {"source", "topic", "score", "relevant", "terms"} for o in out),
                "each object has source, topic, score, relevant, terms")
        h.check(all(0.0 <= o["score"] <= 1.0 for o in out), "scores lie in [0, 1]")
        verdicts = [o["relevant"] for o in out]
        h.check(verdicts == [True] * len(ON_TOPIC) + [False] * len(OFF_TOPIC),
                f"on-topic texts relevant, others not: {[round(o['score'], 2) for o in out]}")
        p = run([h.VEILLECTL, "-c", CONF, "score", "--topic", "belarus-border"],
                stdin=f"{ON_TOPIC[2][0]}\n\n{ON_TOPIC[2][1]}\n")
        o = json.loads(p.stdout)
        h.check(p.returncode == 0 and o["source"] == "-" and o["relevant"], "score reads stdin")
        p = run([h.VEILLECTL, "-c", CONF, "score", "--topic", "nope", files[0]])
        h.check(p.returncode == 1 and "nope" in p.stderr, "an unknown topic is a runtime error naming it")

        # parse --url resolves relative links as the daemon does against the URL it fetched;
        # --charset is the HTTP Content-Type charset, used when the document declares none.
        doc = os.path.join(tmp, "rel.xml")
        with open(doc, "wb") as f:
            f.write(b'<rss version="2.0"><channel><title>t</title><item><title>Ann\xe9e</title>'
                    b'<link>../a/b?x=1</link></item></channel></rss>')
        p = run([h.VEILLECTL, "parse", "--url", "https://ex.org/rss/une/feed.xml",
                 "--charset", "iso-8859-1", doc])
        o = json.loads(p.stdout) if p.returncode == 0 else {}
        h.check(o.get("link") == "https://ex.org/rss/a/b?x=1",
                f"parse --url resolves a relative link ({o.get('link')})")
        h.check(o.get("title") == "Ann\u00e9e", f"parse --charset decodes ISO-8859-1 ({o.get('title')})")

    p = run([h.VEILLECTL, "-c", CONF, "profile"])
    rows = [l for l in p.stdout.splitlines() if l and not l.startswith("#")]
    h.check(p.returncode == 0 and len(rows) >= 10, f"profile prints derived terms ({len(rows)})")
    p = run([h.VEILLECTL, "-c", CONF, "profile", "--json"])
    rows = [json.loads(l) for l in p.stdout.splitlines()]
    h.check(rows and all(r["weight"] > 0 for r in rows), "profile --json weights are positive")
    groups = [r.get("group") for r in rows]
    order = ["name", "context", "phrase"]
    h.check(set(groups) == set(order) and groups == sorted(groups, key=order.index),
            "profile --json: names, then context words, then phrases")
    for g in order:
        ws = [r["weight"] for r in rows if r["group"] == g]
        h.check(ws == sorted(ws, reverse=True), f"profile is strongest first among {g}s")
    h.check(rows[0]["term"] == "belarus", f"the strongest name is the subject ({rows[0]['term']})")
    p = run([h.VEILLECTL, "-c", CONF, "profile"])
    first = [l.split() for l in p.stdout.splitlines() if l and not l.startswith("#")][0]
    h.check(first[:2] == ["name", "belarus"], f"profile shows each term's group ({first})")

    for argv, what in [([h.VEILLECTL], "no command"), ([h.VEILLECTL, "frobnicate"], "unknown command"),
                       ([h.VEILLECTL, "-c", CONF, "items", "--since", "yesterday-ish"], "bad --since"),
                       ([h.VEILLECTL, "-c", CONF, "items", "--limit", "-3"], "bad --limit"),
                       ([h.VEILLECTL, "parse"], "parse without FILE"),
                       ([h.VEILLED, "--bogus"], "veilled unknown option")]:
        p = run(argv)
        h.check(p.returncode == 2, f"usage error exits 2: {what} ({p.returncode})")
        h.check(p.stderr.strip() != "", f"usage error says something: {what}")
    h.finish()


if __name__ == "__main__":
    main()
