"""Fetch faults end to end: veilled --once runs against a fixture server with two healthy feeds
and one feed per misbehaviour (gzip bomb, a content encoding veille does not know, oversized
body, trickle, hang, truncated body, 500 then recovery, 429 with Retry-After, a chain of 301s, a
redirect loop, 410, a redirect to file://, a refused connection, an unresolvable host). Every
fault stays the failing feed's own business: the daemon exits 0, the healthy feeds' items are
stored, `veillectl feeds` shows each feed's state, and stderr has exactly one line naming each
feed. Every request carries a User-Agent naming veille and the configured contact URL. The
trickle and the hang are cut off by the configured low-speed limit, shorter than the timeout.

A second run (a restart) sees 304 for the healthy feed (one "not modified" line, nothing
parsed), the flaky feed recovering (one line), the moved feed fetched at its new URL from the
first request with its validators (304, the move not logged again), and no failure logged a
second time. A third run proves the validators also survive a 304 and another restart. A fourth
run with the moved feed's url changed in the configuration starts that feed afresh."""

import json
import os
import re
import subprocess
import time
from datetime import datetime

import harness as h
from corpus import ON_TOPIC, OFF_TOPIC
from feedgen import WRITERS, item

RETRY_AFTER = 3600
TIMEOUT = 4  # the [veille] timeout
LOW_SPEED_TIME = 2  # the trickle (1 byte/s) and the hang are cut off by the low-speed limit first
CONTACT = "https://veille.example/operator"

STORIES = list(ON_TOPIC) + list(OFF_TOPIC)
MAIN = STORIES[:10]
OTHER = STORIES[10:14]
THIRD = STORIES[14:17]
FOURTH = STORIES[17:20]


def write_feed(root, name, kind, stories, tag):
    items = [item(s, f"urn:veille-faults:{tag}{i}", f"https://news.example.fr/{tag}/{i}", i)
             for i, s in enumerate(stories)]
    with open(os.path.join(root, name), "w", encoding="utf-8") as f:
        f.write(WRITERS[kind](f"Faults {tag}", items))
    return os.path.getsize(os.path.join(root, name))


def run_once(conf, what, limit):
    t0 = time.monotonic()
    p = subprocess.run([h.VEILLED, "-c", conf, "--once"], capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t0
    h.check(p.returncode == 0, f"{what}: veilled --once exits 0 (got {p.returncode}: {p.stderr.strip()[-800:]})")
    h.check(took < limit, f"{what}: took {took:.1f}s (< {limit}s)")
    h.check("AddressSanitizer" not in p.stderr and "runtime error" not in p.stderr,
            f"{what}: no sanitizer report")
    return p.stderr.splitlines()


def ctl(conf, *args):
    p = subprocess.run([h.VEILLECTL, "-c", conf] + list(args), capture_output=True, text=True, timeout=60)
    h.check(p.returncode == 0, f"veillectl {' '.join(args)} exits 0 ({p.stderr.strip()})")
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def naming(lines, name):
    pat = re.compile(r"\bfeed " + re.escape(name) + r"[ :]")
    return [l for l in lines if pat.search(l)]


def epoch(iso):
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def table(conf):
    """`veillectl feeds` as people read it: rows by name, continuation lines attached."""
    p = subprocess.run([h.VEILLECTL, "-c", conf, "feeds"], capture_output=True, text=True, timeout=60)
    h.check(p.returncode == 0, f"veillectl feeds exits 0 ({p.stderr.strip()})")
    lines = p.stdout.splitlines()
    h.check(lines and lines[0].split()[:3] == ["NAME", "STATE", "HTTP"], f"feeds table header ({lines[:1]})")
    rows, name = {}, None
    for l in lines[1:]:
        if l.startswith(" "):
            rows[name].append(l.strip())
        else:
            name = l.split()[0]
            rows[name] = [l]
    return rows


def main():
    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.mkdir(root)
        main_size = write_feed(root, "feed.xml", "rss2", MAIN, "main")
        write_feed(root, "other.xml", "atom", OTHER, "other")
        write_feed(root, "third.xml", "rdf", THIRD, "third")
        write_feed(root, "fourth.xml", "atom", FOURTH, "fourth")
        server = h.FeedServer(root, tmp)
        try:
            b = server.base
            feeds = {
                "healthy": f"{b}/feed.xml",
                "healthy2": f"{b}/fourth.xml",
                "f-bomb": f"{b}/bomb/64/feed.xml",
                "f-br": f"{b}/encoding/br/feed.xml",
                "f-big": f"{b}/big/4/feed.xml",
                "f-trickle": f"{b}/trickle/feed.xml",
                "f-hang": f"{b}/hang/feed.xml",
                "f-truncated": f"{b}/truncated/feed.xml",
                "f-flaky": f"{b}/flaky/1/third.xml",
                "f-429": f"{b}/retry-after/{RETRY_AFTER}/feed.xml",
                "f-moved": f"{b}/redirect/3/other.xml",
                "f-loop": f"{b}/loop/feed.xml",
                "f-gone": f"{b}/status/410/feed.xml",
                "f-file": f"{b}/to-file/feed.xml",
                "f-refused": "http://127.0.0.1:1/feed.xml",
                "f-dns": "http://nonexistent.invalid/feed.xml",
            }
            db = os.path.join(tmp, "veille.db")
            conf = os.path.join(tmp, "veille.conf")
            extra = (f"timeout = {TIMEOUT}s\nconnect_timeout = 2s\nmax_body = 1M\n"
                     f"low_speed_limit = 100\nlow_speed_time = {LOW_SPEED_TIME}s\n"
                     f"contact = {CONTACT}\nalerts = none\n")
            h.write_config(conf, db, list(feeds.items()), extra=extra)

            # ---- first run ----
            start = time.time()
            lines = run_once(conf, "first run", 30)
            fs = {f["name"]: f for f in ctl(conf, "feeds", "--json")}
            h.check(set(fs) == set(feeds), f"feeds --json lists every feed ({sorted(fs)})")
            for name in feeds:
                got = naming(lines, name)
                h.check(len(got) == 1, f"first run: exactly one log line names {name} ({got})")

            for name in ("healthy", "healthy2"):
                ok = fs[name]
                n = len(MAIN) if name == "healthy" else len(FOURTH)
                h.check(ok["status"] == 200 and ok["errors"] == 0 and ok["last_error"] is None
                        and ok["items"] == n and ok["state"] == "ok" and not ok["moved"],
                        f"{name}: 200, {n} items, no error, state ok ({ok})")
                h.check(re.search(rf": {n} items, {n} new,", naming(lines, name)[0]),
                        f"{name}: its one line is the ingest summary")
            items = ctl(conf, "items", "--json")
            titles = {i["title"] for i in items}
            h.check(titles == {s[0] for s in MAIN + OTHER + FOURTH},
                    f"the healthy and the moved feeds' items are stored, nothing else ({len(items)} items)")
            reqs = server.requests()
            main_reqs = [r for r in reqs if r[1] == "/feed.xml"]
            h.check(len(main_reqs) == 1 and main_reqs[0][2] == "200" and int(main_reqs[0][3]) < main_size,
                    f"healthy feed came gzipped: {main_reqs} vs {main_size} bytes on disk")
            agents = {r[4] for r in reqs}
            h.check(len(agents) == 1 and re.fullmatch(r"veille/\S+ \(\+" + re.escape(CONTACT) + r"\)",
                                                      agents.pop()),
                    f"every request's User-Agent names veille and the contact URL ({set(r[4] for r in reqs)})")

            def failed(name, what, pattern, status=0):
                f = fs[name]
                h.check(f["errors"] == 1 and f["status"] == status and not f["disabled"]
                        and f["state"] == "failing"
                        and f["last_error"] and re.search(pattern, f["last_error"], re.I)
                        and f["items"] == 0,
                        f"{name}: {what}: state {f['state']}, status {f['status']}, errors {f['errors']}, "
                        f"last_error {f['last_error']!r}")
                nf = f["next_fetch"] and epoch(f["next_fetch"]) - start
                h.check(nf and nf > 0, f"{name}: retried later ({nf}s)")
                line = naming(lines, name)
                h.check(line and re.search(pattern, line[0], re.I) and "retrying in" in line[0],
                        f"{name}: the log line says what failed and when it is retried ({line})")

            # Bodies are decoded by the worker, max_body bounding them again there.
            failed("f-bomb", "gzip bomb cut at max_body", r"larger than 1 MiB once decoded \(gzip\)",
                   200)
            failed("f-br", "unknown content encoding", r"unsupported content encoding 'br'", 200)
            failed("f-big", "body over max_body", r"larger than 1 MiB", 200)
            failed("f-trickle", "trickle cut off by the low-speed limit",
                   rf"too slow: under 100 bytes/s for {LOW_SPEED_TIME} s", 200)
            # A server that sends nothing is under any low-speed limit too: cut off first by it.
            failed("f-hang", "hang cut off", rf"too slow: under 100 bytes/s for {LOW_SPEED_TIME} s")
            failed("f-truncated", "truncated body", r"truncated", 200)
            failed("f-flaky", "500", r"HTTP 500", 500)
            failed("f-429", "429", r"HTTP 429", 429)
            failed("f-loop", "redirect loop", r"too many redirects", 301)
            failed("f-file", "redirect to file://", r"redirect to a scheme", 302)
            failed("f-refused", "connection refused", r"connection refused")
            failed("f-dns", "unresolvable host", r"resolve host .nonexistent\.invalid")

            ra = epoch(fs["f-429"]["next_fetch"]) - start
            h.check(ra >= RETRY_AFTER, f"f-429: next fetch honours Retry-After ({ra:.0f}s >= {RETRY_AFTER}s)")

            mv = fs["f-moved"]
            final = f"{b}/redirect/0/other.xml"
            h.check(mv["url"] == final and mv["config_url"] == feeds["f-moved"] and mv["moved"]
                    and mv["status"] == 200 and mv["errors"] == 0 and mv["state"] == "ok"
                    and mv["items"] == len(OTHER), f"f-moved: url is the final URL, items stored ({mv})")
            moved = [l for l in lines if "moved permanently" in l]
            h.check(len(moved) == 1 and "f-moved" in moved[0] and final in moved[0]
                    and re.search(rf"{len(OTHER)} items, {len(OTHER)} new", moved[0]),
                    f"one 'moved permanently' line, with the feed's ingest summary ({moved})")

            gone = fs["f-gone"]
            h.check(gone["disabled"] is True and gone["state"] == "disabled" and gone["status"] == 410
                    and gone["last_error"] and gone["next_fetch"] is None,
                    f"f-gone: disabled after 410 ({gone})")
            # "410 Gone", not "410": the server's random port may hold "410" (127.0.0.1:41053)
            about = [l for l in lines if "410 Gone" in l]
            h.check(len(about) == 1 and "f-gone" in about[0], f"one line about the 410 ({about})")

            rows = table(conf)
            h.check(set(rows) == set(feeds), f"the feeds table has one row per feed ({sorted(rows)})")
            h.check(rows["healthy"][0].split()[1:5] == ["ok", "200", str(len(MAIN)), "0"],
                    f"table: healthy is ok ({rows['healthy']})")
            h.check(rows["f-flaky"][0].split()[1:5] == ["failing", "500", "0", "1"]
                    and rows["f-flaky"][1] == "last error: HTTP 500",
                    f"table: f-flaky is failing, its last error below ({rows['f-flaky']})")
            h.check(rows["f-gone"][0].split()[1] == "disabled" and " never " in rows["f-gone"][0],
                    f"table: f-gone is disabled, never fetched again ({rows['f-gone']})")
            h.check(rows["f-moved"][0].endswith(final)
                    and rows["f-moved"][1] == f"moved permanently from {feeds['f-moved']}",
                    f"table: f-moved shows where it moved from ({rows['f-moved']})")

            # ---- second run (a restart): conditional GET, recovery, the move remembered ----
            before = len(server.requests())
            lines2 = run_once(conf, "second run", 30)
            fs2 = {f["name"]: f for f in ctl(conf, "feeds", "--json")}
            second = server.requests()[before:]
            main2 = [r for r in second if r[1] == "/feed.xml"]
            h.check(len(main2) == 1 and main2[0][2] == "304" and main2[0][3] == "0",
                    f"healthy feed: 304 with no body on the second run ({main2})")
            h.check(fs2["healthy"]["status"] == 304 and fs2["healthy"]["items"] == len(MAIN)
                    and fs2["healthy"]["state"] == "ok",
                    f"healthy feed state after 304 ({fs2['healthy']})")
            got = naming(lines2, "healthy")
            h.check(len(got) == 1 and "not modified (304), nothing parsed" in got[0]
                    and not re.search(r" items, ", got[0]),
                    f"304: exactly one line, and no ingest summary: the parser never ran ({got})")
            rec = [l for l in lines2 if "recovered" in l]
            h.check(len(rec) == 1 and "f-flaky" in rec[0], f"one 'recovered' line, for f-flaky ({rec})")
            got = naming(lines2, "f-flaky")
            h.check(len(got) == 1 and re.search(r"recovered after 1 failed attempt; "
                                                rf"{len(THIRD)} items, {len(THIRD)} new", got[0]),
                    f"f-flaky: exactly one line, the recovery with its items ({got})")
            fl = fs2["f-flaky"]
            h.check(fl["status"] == 200 and fl["errors"] == 0 and fl["last_error"] is None
                    and fl["items"] == len(THIRD) and fl["state"] == "ok",
                    f"f-flaky recovered with its items ({fl})")
            h.check(not any(r[1].startswith("/status/410/") for r in second), "the disabled feed is not fetched")
            h.check(fs2["f-gone"]["disabled"] is True, "f-gone stays disabled")
            for name in ("f-bomb", "f-br", "f-big", "f-trickle", "f-hang", "f-truncated", "f-loop",
                         "f-file", "f-refused", "f-dns"):
                h.check(fs2[name]["errors"] == 2 and fs2[name]["state"] == "failing"
                        and not naming(lines2, name),
                        f"second run: {name} fails again quietly (errors {fs2[name]['errors']})")
            # The permanent move survived the restart: the first request goes to the new URL,
            # with the validators of the first run, and the move is not logged again.
            moved_reqs = [r for r in second if "/redirect/" in r[1]]
            h.check(moved_reqs and moved_reqs[0][1] == "/redirect/0/other.xml" and moved_reqs[0][2] == "304"
                    and len(moved_reqs) == 1,
                    f"second run: f-moved's first and only request goes to the new URL, answered 304 "
                    f"({moved_reqs})")
            h.check(not [l for l in lines2 if "moved permanently" in l], "second run: the move is not logged again")
            h.check(fs2["f-moved"]["url"] == final and fs2["f-moved"]["moved"],
                    f"f-moved keeps its final url ({fs2['f-moved']['url']})")
            items2 = ctl(conf, "items", "--json")
            h.check(len(items2) == len(MAIN) + len(OTHER) + len(THIRD) + len(FOURTH),
                    f"second run adds exactly the recovered feed's items ({len(items2)})")

            # ---- third run: validators survive a 304 and another restart ----
            before = len(server.requests())
            lines3 = run_once(conf, "third run", 30)
            third = server.requests()[before:]
            for path, name in (("/feed.xml", "healthy"), ("/fourth.xml", "healthy2"),
                               ("/redirect/0/other.xml", "f-moved")):
                got = [r for r in third if r[1] == path]
                h.check(len(got) == 1 and got[0][2] == "304", f"third run: {name} answered 304 again ({got})")
            items3 = ctl(conf, "items", "--json")
            h.check(sorted((i["title"], i["fetched"]) for i in items3)
                    == sorted((i["title"], i["fetched"]) for i in items2),
                    "third run: the items are untouched")

            # ---- fourth run: the moved feed's url changed in the configuration ----
            feeds["f-moved"] = f"{b}/redirect308/1/fourth.xml"
            h.write_config(conf, db, list(feeds.items()), extra=extra)
            before = len(server.requests())
            lines4 = run_once(conf, "fourth run", 30)
            fourth = server.requests()[before:]
            got = [r for r in fourth if "redirect" in r[1]]
            h.check([r[1] for r in got] == ["/redirect308/1/fourth.xml", "/redirect308/0/fourth.xml"]
                    and got[-1][2] == "200",
                    f"a changed url starts afresh: the new configured URL, fetched whole ({got})")
            mv4 = next(f for f in ctl(conf, "feeds", "--json") if f["name"] == "f-moved")
            h.check(mv4["config_url"] == feeds["f-moved"] and mv4["url"] == f"{b}/redirect308/0/fourth.xml"
                    and mv4["state"] == "ok", f"f-moved now follows its new configuration ({mv4})")
            got = naming(lines4, "f-moved")
            h.check(len(got) == 2 and "url changed in the configuration" in got[0]
                    and "moved permanently" in got[1],
                    f"fourth run: one line for the new url, one for the new move ({got})")
        finally:
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
