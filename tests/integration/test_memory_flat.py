"""Memory stays flat while the daemon idles through warm cycles: veilled polls 40 unchanged feeds
every second or so (min_interval = 1s), every answer a 304, until the fixture server has answered
1000 conditional GETs after a warm-up of 300. Its resident set size (VmRSS) and open file
descriptors are sampled throughout; after the warm-up neither may grow beyond a small bound."""

import os
import random
import time

import harness as h
import outage
from newsfeeds import NewsFeeds

NFEEDS = 40
WARMUP = 300
CYCLES = 1000
RSS_BOUND_KB = 512


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            if l.startswith("VmRSS:"):
                return int(l.split()[1])
    return 0


def nfds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def main():
    if os.environ.get("VEILLE_SANITIZED", "0") not in ("", "0", "OFF", "FALSE"):
        h.skip("a sanitized build holds freed memory in quarantine: its RSS says nothing about leaks")
    t0 = time.monotonic()
    with h.TempDir() as tmp:
        os.mkdir(os.path.join(tmp, "feeds"))
        feeds = NewsFeeds(os.path.join(tmp, "feeds"), NFEEDS, random.Random(3), prefix="mem")
        feeds.grow_all(6)
        server = h.FeedServer(feeds.root, tmp)
        conf = os.path.join(tmp, "veille.conf")
        h.write_config(conf, os.path.join(tmp, "veille.db"),
                       feeds.entries(server.base),
                       extra="alerts = none\ninterval = 1s\nmin_interval = 1s\nmax_interval = 2s\n")
        d = outage.Daemon([h.VEILLED, "-c", conf], os.path.join(tmp, "veilled.log"))
        samples = []  # (304s answered, rss kB, fds)
        try:
            def n304():
                return sum(1 for r in server.requests() if len(r) > 2 and r[2] == "304")

            end = time.monotonic() + 150
            while d.alive() and time.monotonic() < end:
                n = n304()
                samples.append((n, rss_kb(d.proc.pid), nfds(d.proc.pid)))
                if n >= WARMUP + CYCLES:
                    break
                time.sleep(0.25)
            h.check(d.alive(), "the daemon ran through the warm cycles")
            n = samples[-1][0] if samples else 0
            h.check(n >= WARMUP + CYCLES, f"{n} conditional GETs answered 304 (wanted {WARMUP + CYCLES})")
            n200 = sum(1 for r in server.requests() if len(r) > 2 and r[2] == "200")
            h.check(n200 == NFEEDS, f"each feed fetched whole once, then only 304s ({n200} full fetches)")
            warm = [s for s in samples if s[0] >= WARMUP]
            if h.check(len(warm) >= 10, f"{len(warm)} samples after the warm-up"):
                base = max(s[1] for s in warm[:len(warm) // 4])
                last = max(s[1] for s in warm[-len(warm) // 4:])
                peak = max(s[1] for s in warm)
                print(f"VmRSS after {WARMUP} warm cycles: {base} kB; after {n}: {last} kB; peak {peak} kB")
                h.check(last - base <= RSS_BOUND_KB,
                        f"RSS growth over {n - WARMUP} warm cycles: {last - base} kB (bound {RSS_BOUND_KB} kB)")
                fds = {s[2] for s in warm}
                h.check(max(fds) - min(fds) <= 2, f"open descriptors stay flat ({min(fds)}..{max(fds)})")
        finally:
            rc = d.stop()
            server.stop()
        h.check(rc == 0, f"SIGTERM: exit 0 ({rc})")
    print(f"took {time.monotonic() - t0:.1f}s")
    h.finish()


if __name__ == "__main__":
    main()
