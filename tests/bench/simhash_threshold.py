#!/usr/bin/env python3
"""simhash_threshold - measures the SimHash distances that decide when two items are one story.

Usage: simhash_threshold.py [--bench-simhash PATH] [--veillectl PATH] [--seed N]

Texts: the reference articles of conf/reference, the stories of tests/integration/corpus.py and,
when ../shared is there, the labelled texts of relevance/dev.jsonl and the items of feeds/real
(parsed with `veillectl parse`). Each text of at least 40 words is rewritten the way an outlet
rewrites a wire dispatch, and every pair of distinct texts is compared:

  lede        the first sentence replaced by another text's first sentence (new words entirely)
  lede+trim   the same, and the last sentence dropped
  lede+edit   the same, plus the usual rewording ("a déclaré" -> "a affirmé", "selon" ->
              "d'après", "Biélorussie" -> "Bélarus"...) and a cross-link and "Source link" line

SimHashes (128 bits) come from the real dedup_simhash (tests/bench/bench_simhash). Prints, per kind
of pair, the distribution of Hamming distances and, for each candidate threshold, the share of rewrites
found and of distinct pairs wrongly grouped. Seeds 002 and 004 (two articles on one event) are
reported on their own. A measurement, not a test: no threshold in here decides anything.
"""
import argparse
import collections
import glob
import json
import os
import random
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, "..", ".."))
SHARED = os.path.normpath(os.path.join(SOURCE, "..", "shared"))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))
from corpus import ON_TOPIC, OFF_TOPIC  # noqa: E402

MIN_WORDS = 40
EDITS = [("a déclaré", "a affirmé"), ("a indiqué", "a précisé"), ("a annoncé", "a fait savoir"),
         ("selon", "d'après"), ("Selon", "D'après"), ("vendredi", "ce vendredi"),
         ("jeudi", "ce jeudi"), ("Biélorussie", "Bélarus"), ("plus de", "au moins"),
         ("également", "aussi")]


def sentences(text):
    return [s for s in re.split(r"(?<=[.!?…»”])\s+(?=[A-ZÀ-ÖØ-Þ«“\"])", text.strip()) if s]


def rewrite(text, donor, kind):
    s = sentences(text)
    d = sentences(donor)
    if len(s) < 2 or not d:
        return None
    out = [d[0]] + s[1:]
    if kind in ("lede+trim", "lede+edit") and len(out) > 2:
        out = out[:-1]
    r = " ".join(out)
    if kind == "lede+edit":
        for a, b in EDITS:
            r = r.replace(a, b)
        r = "Lire aussi : toute l'actualité\n" + r + "\nSource link"
    return r


def load_texts(veillectl):
    texts = []  # (name, text)
    for p in sorted(glob.glob(os.path.join(SOURCE, "conf", "reference", "*.txt"))):
        with open(p, encoding="utf-8") as f:
            texts.append(("seed:" + os.path.basename(p)[:3], f.read()))
    for i, (t, x) in enumerate(ON_TOPIC + OFF_TOPIC):
        texts.append((f"corpus:{i}", x))
    dev = os.path.join(SHARED, "relevance", "dev.jsonl")
    if os.path.exists(dev):
        with open(dev, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    o = json.loads(line)
                    texts.append(("dev:" + o["id"], o["text"]))
    else:
        print(f"note: {dev} absent, labelled texts skipped")
    real = sorted(glob.glob(os.path.join(SHARED, "feeds", "real", "*.xml")))
    if real and veillectl:
        for p in real:
            r = subprocess.run([veillectl, "parse", p], capture_output=True, text=True)
            for n, line in enumerate(r.stdout.splitlines()):
                o = json.loads(line)
                body = o.get("content") or o.get("summary") or ""
                if o.get("summary") and len(o["summary"]) > len(body):
                    body = o["summary"]
                texts.append((f"real:{os.path.basename(p)[:-4]}:{n}", body))
    elif not real:
        print(f"note: {SHARED}/feeds/real absent, real feed items skipped")
    # The same text twice (a feed saved twice) is one text.
    seen, out = set(), []
    for name, t in texts:
        key = " ".join(t.split())
        if key and key not in seen:
            seen.add(key)
            out.append((name, t))
    return out


def simhashes(tool, texts):
    data = b"".join(t.encode("utf-8") + b"\0" for t in texts)
    r = subprocess.run([tool], input=data, capture_output=True, check=True)
    sys.stderr.write(r.stderr.decode())
    return [(int(h, 16), int(w)) for h, w in (l.split() for l in r.stdout.decode().splitlines())]


def dist(a, b):
    return bin(a ^ b).count("1")


def histogram(title, ds):
    c = collections.Counter(ds)
    n = len(ds)
    print(f"\n{title}: {n} pairs" + (f", min {min(ds)}, median {sorted(ds)[n // 2]}, max {max(ds)}" if n else ""))
    if not n:
        return
    line = []
    for d in range(0, 129):
        if c[d]:
            line.append(f"{d}:{c[d]}")
    print("  distance:count  " + "  ".join(line))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench-simhash", default=os.path.join(SOURCE, "build", "tests", "bench", "bench_simhash"))
    ap.add_argument("--veillectl", default=os.path.join(SOURCE, "build", "veillectl"))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    texts = load_texts(a.veillectl if os.path.exists(a.veillectl) else None)
    hs = simhashes(a.bench_simhash, [t for _, t in texts])
    long_idx = [i for i, (h, _) in enumerate(hs) if h]
    print(f"{len(texts)} distinct texts, {len(long_idx)} of at least {MIN_WORDS} words (the others get no SimHash)")

    # Rewrites of every long text, each with a donor first sentence from another text.
    kinds = ["lede", "lede+trim", "lede+edit"]
    rw_texts, rw_meta = [], []
    for i in long_idx:
        j = rnd.choice([k for k in range(len(texts)) if k != i])
        for kind in kinds:
            r = rewrite(texts[i][1], texts[j][1], kind)
            if r:
                rw_texts.append(r)
                rw_meta.append((i, kind))
    rh = simhashes(a.bench_simhash, rw_texts)
    by_kind = collections.defaultdict(list)
    by_len = collections.defaultdict(list)
    for (i, kind), (h, _) in zip(rw_meta, rh):
        d = dist(hs[i][0], h) if h else 128
        by_kind[kind].append(d)
        w = hs[i][1]
        bucket = "40-99" if w < 100 else "100-199" if w < 200 else "200-399" if w < 400 else "400+"
        by_len[bucket].append(d)
    for kind in kinds:
        histogram(f"rewrite {kind} vs original", by_kind[kind])
    for b in ["40-99", "100-199", "200-399", "400+"]:
        histogram(f"rewrites (all kinds) of texts of {b} words", by_len[b])

    distinct = []
    for x in range(len(long_idx)):
        for y in range(x + 1, len(long_idx)):
            i, j = long_idx[x], long_idx[y]
            distinct.append((dist(hs[i][0], hs[j][0]), i, j))
    histogram("distinct texts", [d for d, _, _ in distinct])
    print("  closest distinct pairs:")
    for d, i, j in sorted(distinct)[:8]:
        print(f"    {d:2d}  {texts[i][0]} «{texts[i][1][:50]!s}»  {texts[j][0]} «{texts[j][1][:50]!s}»")

    seeds = {n: k for k, (n, _) in enumerate(texts)}
    if "seed:002" in seeds and "seed:004" in seeds:
        i, j = seeds["seed:002"], seeds["seed:004"]
        print(f"\nseeds 002 and 004 (the January 2023 troop train, two articles): distance {dist(hs[i][0], hs[j][0])}")

    allrw = [d for k in kinds for d in by_kind[k]]
    longrw = by_len["100-199"] + by_len["200-399"] + by_len["400+"]
    dd = [d for d, _, _ in distinct]
    print("\nthreshold  rewrites found (all / >=100 words)  distinct pairs grouped  "
          "expected false matches per new item in a window of 10k / 100k items")
    for t in range(4, 49, 2):
        fp = sum(1 for d in dd if d <= t) / len(dd)
        print(f"  <= {t:2d}   {sum(d <= t for d in allrw) / len(allrw):6.1%} / "
              f"{sum(d <= t for d in longrw) / max(1, len(longrw)):6.1%}      "
              f"{fp:9.5%}          {fp * 1e4:8.3f} / {fp * 1e5:8.2f}")


if __name__ == "__main__":
    main()
