"""Feeds that grow: N RSS 2.0 documents on disk, to which the tests append freshly written French
news items (scripts/bench-gen.py's vocabulary; a share of them about the Belarus-Ukraine border)
between runs of veilled. Every item ever served is remembered by guid."""

import importlib.util
import os

import harness as h
from feedgen import BASE_TIME, rss2

from datetime import timedelta


def load_gen():
    spec = importlib.util.spec_from_file_location(
        "bench_gen", os.path.join(h.SOURCE_DIR, "scripts", "bench-gen.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class NewsFeeds:
    def __init__(self, root, nfeeds, rng, border_share=0.3, prefix="news"):
        self.gen = load_gen()
        self.root = root
        self.rng = rng
        self.border_share = border_share
        self.prefix = prefix
        self.items = [[] for _ in range(nfeeds)]
        self.served = {}  # guid -> title
        self.serial = 0
        for f in range(nfeeds):
            self.write(f)

    def name(self, f):
        return f"{self.prefix}{f:03d}.xml"

    def write(self, f):
        # Newest first, like real feeds.
        path = os.path.join(self.root, self.name(f))
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(rss2(f"Actualités {f}", self.items[f][::-1]))
        os.replace(tmp, path)

    def new_item(self, f):
        g, r = self.gen, self.rng
        self.serial += 1
        s = self.serial
        border = r.random() < self.border_share
        if border:
            title = f"{r.choice(g.B_TITLES)} ({s})"
            sentence = g._border_sentence
        else:
            subj, verb, obj = g._clause(r, g.SUBJECTS, g.VERBS, g.OBJECTS)
            title = f"{r.choice(g.TITLE_HEADS)} : {subj} {verb} {obj} ({s})"
            sentence = g._sentence
        text = f"(Dépêche n° {s}) " + " ".join(sentence(r) for _ in range(r.randint(4, 8)))
        guid = f"urn:{self.prefix}:{s}"
        return {"title": title, "text": text, "guid": guid,
                "link": f"https://{self.prefix}{f}.example.fr/{'monde' if border else 'france'}/{s}.html",
                "date": BASE_TIME + timedelta(minutes=s)}

    def grow(self, f, n):
        """Appends n new items to feed f and rewrites its document."""
        for _ in range(n):
            it = self.new_item(f)
            self.items[f].append(it)
            self.served[it["guid"]] = it["title"]
        self.write(f)

    def grow_all(self, n):
        """Appends n new items to every feed."""
        for f in range(len(self.items)):
            self.grow(f, n)

    def entries(self, base, label="{prefix}{f}"):
        """(name, url) of every feed as served from base, for write_config; label formats the
        name from prefix and the feed's index f."""
        return [(label.format(prefix=self.prefix, f=f), f"{base}/{self.name(f)}")
                for f in range(len(self.items))]

    def served_now(self):
        """guid of every item the documents on disk carry now."""
        return {it["guid"] for items in self.items for it in items}
