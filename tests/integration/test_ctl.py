"""veillectl as an operator meets it: every command answers --help (status 0, usage on stdout),
prints a table with a header for people and JSON for scripts, fails with one line naming the file
(and line) and status 1, and with status 2 on bad usage. `search "loukachenko frontiere"` finds the
story with «Loukachenko … frontière» in a store filled by veilled from a local feed."""

import json
import os
import subprocess

import harness as h
from corpus import ON_TOPIC, OFF_TOPIC
from feedgen import rss2, item

COMMANDS = ["parse", "score", "profile", "feeds", "items", "search", "stats", "export", "import-opml"]


def ctl(conf, *args):
    argv = [h.VEILLECTL] + (["-c", conf] if conf else []) + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def main():
    p = ctl(None, "--help")
    h.check(p.returncode == 0 and all(f"  {c} " in p.stdout or f"  {c}\n" in p.stdout for c in COMMANDS),
            "veillectl --help lists every command")
    for c in COMMANDS:
        p = ctl(None, c, "--help")
        h.check(p.returncode == 0 and p.stdout.startswith(f"usage: veillectl [-c FILE] {c}") and p.stderr == "",
                f"veillectl {c} --help: status 0, usage on stdout")
    for c in ["profile", "feeds", "items", "search", "stats", "export", "import-opml", "score"]:
        p = ctl(None, c, "--no-such-option")
        h.check(p.returncode == 2 and p.stderr.count("\n") == 1 and f"veillectl {c}:" in p.stderr,
                f"veillectl {c} --no-such-option: status 2, one line naming the command ({p.stderr.strip()})")

    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.mkdir(root)
        stories = [ON_TOPIC[1], ON_TOPIC[0], OFF_TOPIC[0], OFF_TOPIC[1]]
        with open(os.path.join(root, "f.xml"), "w", encoding="utf-8") as f:
            f.write(rss2("Ctl", [item(s, f"urn:ctl:{n}", f"https://news.example.fr/c/{n}", n)
                                 for n, s in enumerate(stories)]))
        server = h.FeedServer(root, tmp)
        try:
            db = os.path.join(tmp, "veille.db")
            conf = os.path.join(tmp, "veille.conf")
            h.write_config(conf, db, [("ctl", f"{server.base}/f.xml")], extra="alerts = none\n")
            for c in (["items"], ["stats"], ["search", "x"], ["export"], ["feeds"]):
                p = ctl(conf, *c)
                h.check(p.returncode == 1 and db in p.stderr and p.stderr.count("\n") == 1,
                        f"{c[0]} before any database: status 1, one line naming it ({p.stderr.strip()})")
            p = subprocess.run([h.VEILLED, "-c", conf, "--once"], capture_output=True, text=True, timeout=120)
            h.check(p.returncode == 0, "veilled --once fills the store")

            p = ctl(conf, "search", "loukachenko frontiere")
            rows = p.stdout.splitlines()
            h.check(p.returncode == 0 and rows and rows[0].split()[:2] == ["FETCHED", "SCORE"],
                    "search prints a table with a header")
            h.check(any(ON_TOPIC[1][0] in r for r in rows[1:]),
                    f"search \"loukachenko frontiere\" finds «{ON_TOPIC[1][0]}»: {rows[1:]}")
            found = [json.loads(l) for l in ctl(conf, "search", "--json", "loukachenko frontiere").stdout.splitlines()]
            h.check([o["title"] for o in found] == [ON_TOPIC[1][0]],
                    "search --json: exactly the story with both words")
            h.check(all("Loukachenko" in o["summary"] and "frontière" in o["summary"] for o in found),
                    "the words are found with their case and accents")
            h.check(ctl(conf, "search", "--json", "FRONTIÈRE").stdout.count("\n") == 2,
                    "case and accents fold in the query too")

            p = ctl(conf, "items")
            rows = p.stdout.splitlines()
            h.check(p.returncode == 0 and rows[0].split() == ["FETCHED", "SCORE", "R", "STORY", "FEED", "TITLE"]
                    and len(rows) == 1 + len(stories), f"items: a header and one row per item ({len(rows)})")
            h.check(sum(1 for r in rows[1:] if " * " in r) == 2, "relevant items marked with *")
            js = [json.loads(l) for l in ctl(conf, "items", "--json").stdout.splitlines()]
            h.check(len(js) == len(stories) and all("title" in o and "relevant" in o for o in js), "items --json")
            p = ctl(conf, "stats")
            h.check(p.returncode == 0 and "items           4" in p.stdout, f"stats table: {p.stdout.split()}")
            st = json.loads(ctl(conf, "stats", "--json").stdout)
            h.check(st["items"] == 4 and st["relevant"] == 2, f"stats --json: {st}")
            p = ctl(conf, "stats", "extra")
            h.check(p.returncode == 2 and "stats --help" in p.stderr, "stats with an argument: usage error")
            p = ctl(conf, "search")
            h.check(p.returncode == 2 and p.stderr.count("\n") == 1, "search without QUERY: usage error")

            broken = os.path.join(tmp, "broken.conf")
            with open(broken, "w") as f:
                f.write("[veille]\ndatabase = x.db\n[export]\nformat = xml\n[retention]\nirrelevant = soon\n")
            p = ctl(broken, "items")
            lines = p.stderr.strip().splitlines()
            h.check(p.returncode == 1 and any(l.startswith(f"{broken}:4: format") for l in lines)
                    and any(l.startswith(f"{broken}:6: irrelevant") for l in lines),
                    f"configuration errors name file and line: {lines}")
        finally:
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
