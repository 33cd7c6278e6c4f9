"""Several feeds' documents share one transaction, and one document the database refuses does not
cost the others. veilled --once fetches 24 local feeds at once; one carries an item the database
refuses (a trigger the test adds). Two ways to refuse it:

- at the commit: the item breaks a deferred foreign key, so the shared transaction fails as a
  whole when it commits; every other document in it is fetched again and stored alone;
- at the insert: a trigger aborts the item's insert, in the middle of the shared transaction.

Either way every other feed's items are stored in that same cycle, each exactly once, the refused
feed stores nothing and keeps no validators of the refused document, the failure is logged once,
and --once exits 1. Once the trigger is gone, the next cycle stores the refused feed's items.
"""

import os
import re
import sqlite3
import subprocess

import harness as h
from feedgen import rss2, item

NFEEDS = 24
NITEMS = 10
POISON = 7

WORDS = ("conseil municipal budget école tramway piscine marché quartier association mairie "
         "travaux bibliothèque stade parking festival collège jardin rénovation vote habitants").split()


def story(k, i):
    """A distinct short story for item i of feed k."""
    n = k * NITEMS + i
    words = [WORDS[(n * 7 + j * 3) % len(WORDS)] for j in range(40)]
    return (f"Dépêche locale {n} : {WORDS[n % len(WORDS)]} et {WORDS[(n // 3) % len(WORDS)]}",
            f"Numéro {n}. " + " ".join(words) + f". Fin de la dépêche {n}.")


def build_feeds(root):
    names = []
    for k in range(NFEEDS):
        items = []
        for i in range(NITEMS):
            title, text = story(k, i)
            if k == POISON and i == 3:
                title = "POISON " + title
            items.append(item((title, text), f"urn:batch:{k}:{i}", f"https://ville.example.fr/{k}/{i}",
                              k * NITEMS + i))
        name = f"feed{k:02d}.xml"
        with open(os.path.join(root, name), "w", encoding="utf-8") as f:
            f.write(rss2(f"Feed {k}", items))
        names.append((f"batch-{k:02d}", name))
    return names


POISONS = {
    "commit": [
        "CREATE TABLE poison_parent (id INTEGER PRIMARY KEY)",
        "CREATE TABLE poison_child (parent INTEGER REFERENCES poison_parent(id)"
        " DEFERRABLE INITIALLY DEFERRED)",
        "CREATE TRIGGER poison AFTER INSERT ON items WHEN NEW.title LIKE 'POISON %'"
        " BEGIN INSERT INTO poison_child VALUES (-1); END",
    ],
    "insert": [
        "CREATE TRIGGER poison BEFORE INSERT ON items WHEN NEW.title LIKE 'POISON %'"
        " BEGIN SELECT RAISE(ABORT, 'poisoned item'); END",
    ],
}
UNPOISON = ["DROP TRIGGER poison"]


def run_once(conf, what, expect):
    p = subprocess.run([h.VEILLED, "-c", conf, "--once", "-v"], capture_output=True, text=True,
                       timeout=120)
    h.check(p.returncode == expect, f"{what}: veilled --once exits {expect} (got {p.returncode}: "
            f"{p.stderr.strip()[-300:]})")
    return p.stderr


def sql(db, statements):
    with sqlite3.connect(db) as c:
        for s in statements:
            c.execute(s)


def gets(server, name):
    return sum(1 for r in server.requests() if r[0] == "GET" and r[1] == f"/{name}")


def scenario(tmp, server, names, mode, attempt=0):
    """One cycle with the poison, then one without; in commit mode, True when the poisoned
    document shared the transaction that failed (else it was alone, and stored nothing)."""
    db = os.path.join(tmp, f"{mode}-{attempt}.db")
    conf = os.path.join(tmp, f"{mode}-{attempt}.conf")
    empty = os.path.join(server.root, "empty.xml")
    with open(empty, "w", encoding="utf-8") as f:
        f.write(rss2("Empty", []))
    # The schema first, from a cycle on an empty feed; then the poison.
    h.write_config(conf, db, [("empty", f"{server.base}/empty.xml")])
    run_once(conf, f"{mode}: creating the database", 0)
    sql(db, POISONS[mode])
    # The refused feed failed before: a document the database refuses leaves its count of
    # failures and its error as they were (the state of a success, written in the transaction
    # that failed, is undone), and the next success clears them.
    poison_name, poison_file = names[POISON]
    sql(db, [f"INSERT INTO feeds (name, url, errors, last_error) VALUES ('{poison_name}', "
             f"'{server.base}/{poison_file}', 3, 'HTTP 503 before')"])

    before = {f: gets(server, f) for _, f in names}
    h.write_config(conf, db, [(n, f"{server.base}/{f}") for n, f in names])
    log = run_once(conf, f"{mode}: the cycle with the refused item", 1)

    # Stored together, or refused together: a transaction of several documents that failed
    # as a whole shares them as much (all 24 can arrive before the first commit).
    shared = [int(m) for m in re.findall(r"(\d+) documents stored in one transaction", log)]
    shared += [int(m) for m in re.findall(r"a transaction of (\d+) documents failed", log)]
    h.check(shared and max(shared) > 1,
            f"{mode}: documents share a transaction (sizes {sorted(shared, reverse=True)[:5]})")
    m = re.search(r"cycle done in ([0-9.]+) s; CPU: main thread \(fetch, store\) ([0-9.]+) s, "
                  r"worker \(parse, triage, digests, scores, stories\) ([0-9.]+) s, "
                  r"checkpoints ([0-9.]+) s", log)
    h.check(m and float(m.group(2)) > 0 and float(m.group(3)) >= 0 and float(m.group(4)) >= 0,
            f"{mode}: the cycle's last line says where its CPU went ({m and m.group(0)})")
    failures = [l for l in log.splitlines() if "storing items failed" in l]
    h.check(len(failures) == 1, f"{mode}: the failure is logged once ({len(failures)} lines)")
    with sqlite3.connect(db) as c:
        per_feed = dict(c.execute("select f.name, count(*) from sources s join feeds f"
                                  " on f.id = s.feed_id group by f.name").fetchall())
        n, distinct = c.execute("select count(*), count(distinct hash) from items").fetchone()
        state = dict(c.execute("select name, etag from feeds").fetchall())
        poison_state = c.execute("select errors, last_error from feeds where name = ?",
                                 (poison_name,)).fetchone()
        corpus_docs = c.execute("select cast(value as integer) from meta"
                                " where key = 'corpus_docs'").fetchone()
    h.check(per_feed.get(poison_name, 0) == 0, f"{mode}: the refused feed stored nothing")
    # The topics are re-weighted inside transactions (the weights count the documents a
    # transaction holds): what a failed one counted is gone with it.
    h.check(corpus_docs == ((NFEEDS - 1) * NITEMS,),
            f"{mode}: the document frequencies count the stored items only ({corpus_docs})")
    # Outside a transaction, a weighting counts the items committed so far; after a failed
    # transaction that was weighted inside, the topics are weighted again from what is stored
    # before any other transaction commits (its documents are scored with those weights).
    committed, weighted, inside, redo, bad = 0, [], False, False, []
    for line in log.splitlines():
        m = re.search(r"stored in one transaction, (\d+) new items", line)
        if m:
            committed += int(m.group(1))
            if redo:  # committed, and no weighting since the failure
                bad.append(("committed before weighting again", committed))
            redo = False
            inside = False
            continue
        m = re.search(r"weighted by the document frequencies of (\d+) documents", line)
        if m:
            weighted.append(int(m.group(1)))
            if "the open transaction's included" in line:
                inside = True
            elif int(m.group(1)) != committed:
                bad.append((int(m.group(1)), committed))
            redo = False
        if re.search(r"a transaction of \d+ documents failed", line):
            redo, inside = inside, False
    h.check(weighted and not bad and not redo,
            f"{mode}: each weighting outside a transaction counts the items committed, and a "
            f"failed transaction weighted inside is weighted again ({weighted}; {bad})")
    h.check(poison_state == (3, "HTTP 503 before"),
            f"{mode}: the refused feed keeps its failure count and error ({poison_state})")
    h.check(all(per_feed.get(name) == NITEMS for name, _ in names if name != poison_name),
            f"{mode}: every other feed stored its {NITEMS} items in the same cycle")
    h.check(n == distinct == (NFEEDS - 1) * NITEMS,
            f"{mode}: each item stored once ({n} rows, {distinct} hashes)")
    h.check(state.get(poison_name) is None,
            f"{mode}: the refused feed keeps no validators (etag {state.get(poison_name)!r})")
    h.check(all(state.get(name) for name, _ in names if name != poison_name),
            f"{mode}: the other feeds keep their new validators")
    again = [f for _, f in names if gets(server, f) - before[f] == 2]
    failed = [int(m) for m in re.findall(r"a transaction of (\d+) documents failed", log)]
    if mode == "commit":
        h.check(len(failed) <= 1, f"{mode}: at most one shared transaction failed ({failed})")
    h.check(len(again) == sum(failed),
            f"{mode}: the documents of a failed shared transaction, and only they, were fetched "
            f"again ({len(again)} feeds twice; failed transactions held {failed})")
    h.check(all(gets(server, f) - before[f] in (1, 2) for _, f in names),
            f"{mode}: no feed fetched more than twice")

    sql(db, UNPOISON)
    log = run_once(conf, f"{mode}: the cycle after the trigger is gone", 0)
    with sqlite3.connect(db) as c:
        got = c.execute("select count(*) from sources s join feeds f on f.id = s.feed_id"
                        " where f.name = ?", (poison_name,)).fetchone()[0]
        n = c.execute("select count(*) from items").fetchone()[0]
        poison_state = c.execute("select errors, last_error from feeds where name = ?",
                                 (poison_name,)).fetchone()
    h.check(got == NITEMS and n == NFEEDS * NITEMS,
            f"{mode}: the refused feed's items are stored at the next cycle ({got}; {n} in all)")
    h.check(poison_state == (0, None),
            f"{mode}: its success clears its failure count and error ({poison_state})")
    return len(failed) == 1


def df_failure(tmp, server, names, attempt):
    """The document frequencies cannot be written once the items reach 100: the transaction that
    re-weights the topics inside fails there, and is ended at once instead of taking more
    documents. True when a weighting inside a transaction failed (the documents may commit before
    one, depending on when they arrive)."""
    db = os.path.join(tmp, f"df-{attempt}.db")
    conf = os.path.join(tmp, f"df-{attempt}.conf")
    h.write_config(conf, db, [("empty", f"{server.base}/empty.xml")])
    run_once(conf, "df: creating the database", 0)
    sql(db, ["CREATE TRIGGER df_poison BEFORE INSERT ON term_df"
             " WHEN (SELECT count(*) FROM items) >= 100"
             " BEGIN SELECT RAISE(ABORT, 'poisoned frequencies'); END"])
    h.write_config(conf, db, [(n, f"{server.base}/{f}") for n, f in names])
    log = run_once(conf, "df: the cycle whose frequencies fail past 100 items", 1)
    lines = log.splitlines()
    ended = [i for i, l in enumerate(lines) if "as the document frequencies failed in it" in l]
    if not ended:
        return False
    # The transaction ended holds the documents it held when its weighting failed, no more.
    i = ended[0]
    held = int(re.search(r"transaction of (\d+) documents", lines[i]).group(1))
    after = next((l for l in lines[i + 1:] if "transaction" in l), "")
    m = re.search(r"a transaction of (\d+) documents failed", after)
    h.check(m and int(m.group(1)) == held,
            f"df: the transaction whose weighting failed ends at once with its {held} documents "
            f"({after!r})")
    h.check(any("cannot read the document frequencies" in l for l in lines[:i]),
            "df: the failed weighting is logged")
    with sqlite3.connect(db) as c:
        ok = c.execute("pragma integrity_check").fetchone()[0]
        n, distinct = c.execute("select count(*), count(distinct hash) from items").fetchone()
    h.check(ok == "ok" and n == distinct and n < 100,
            f"df: what was stored is whole, each item once ({ok}, {n} rows, {distinct} hashes)")
    return True


def main():
    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.mkdir(root)
        names = build_feeds(root)
        server = h.FeedServer(root, tmp)
        try:
            scenario(tmp, server, names, "insert")
            # Which documents share a transaction depends on when they arrive: the poisoned
            # one may come alone, and then no shared transaction fails. Every attempt checks
            # the rest; one of them must show a shared transaction failing as a whole.
            shared = []
            while len(shared) < 5 and not any(shared):
                shared.append(scenario(tmp, server, names, "commit", len(shared)))
            h.check(any(shared), f"commit: a shared transaction failed as a whole, in attempt "
                    f"{len(shared)} of at most 5 ({shared})")
            seen = []
            while len(seen) < 5 and not any(seen):
                seen.append(df_failure(tmp, server, names, len(seen)))
            h.check(any(seen), f"df: a weighting inside a transaction failed, in attempt "
                    f"{len(seen)} of at most 5 ({seen})")
        finally:
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
