"""Two topics in one configuration, each with its own reference articles and threshold: the
shipped belarus-border and baltic-cables (tests/data/topics, written for the tests). veilled
--once against two local feeds; every story must alert under exactly the right topic(s), read back
from a real rsyslogd, with the terms that made each verdict."""

import json
import os
import sqlite3
import subprocess

import harness as h
from corpus import ON_TOPIC, OFF_TOPIC
from feedgen import WRITERS, item

# Written for this test, not taken from any outlet.
BALTIC = [
    ("Nouvelle avarie d'un câble entre la Finlande et l'Estonie",
     "Un câble de fibre optique posé au fond du golfe de Finlande a cessé de fonctionner dimanche, "
     "a indiqué l'opérateur estonien. La marine finlandaise a repéré un vraquier qui aurait laissé "
     "traîner son ancre au-dessus du tracé. Tallinn parle d'un possible sabotage et demande à "
     "l'Otan de renforcer la surveillance des infrastructures sous-marines de la mer Baltique."),
    ("La Finlande saisit un navire après l'avarie d'un gazoduc",
     "Les enquêteurs finlandais ont saisi un cargo soupçonné d'avoir endommagé avec son ancre un "
     "gazoduc et deux câbles sous-marins dans le golfe de Finlande. La police évoque un sabotage "
     "des infrastructures critiques de la mer Baltique ; les réparations prendront plusieurs "
     "semaines."),
]
BOTH = ("Sommet de l'Otan : la frontière biélorusse et les câbles de la Baltique au menu",
        "Les alliés ont d'abord évoqué le déploiement de troupes biélorusses et russes près de la "
        "frontière ukrainienne, où Minsk et l'armée biélorusse multiplient les exercices "
        "militaires, selon les gardes-frontières ukrainiens. Ils se sont ensuite penchés sur le "
        "câble sous-marin sectionné au fond du golfe de Finlande, entre la Finlande et l'Estonie : "
        "un cargo est soupçonné d'avoir traîné son ancre, et la police finlandaise a ouvert une "
        "enquête pour sabotage des infrastructures sous-marines de la mer Baltique.")

BELARUS, CABLES = "belarus-border", "baltic-cables"


def main():
    refs = os.path.join(os.path.abspath(h.SOURCE_DIR), "tests", "data", "topics", CABLES)
    expected = {s[0]: {BELARUS} for s in ON_TOPIC}
    expected.update({s[0]: {CABLES} for s in BALTIC})
    expected[BOTH[0]] = {BELARUS, CABLES}
    expected.update({s[0]: set() for s in OFF_TOPIC})
    stories = ON_TOPIC + BALTIC + [BOTH] + OFF_TOPIC
    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.mkdir(root)
        halves = [stories[0::2], stories[1::2]]
        for k, half in enumerate(halves):
            with open(os.path.join(root, f"f{k}.xml"), "w", encoding="utf-8") as f:
                f.write(WRITERS["rss2" if k == 0 else "atom"](
                    f"Feed {k}", [item(s, f"urn:t:{k}:{i}", f"https://n{k}.example.fr/{i}", i)
                                  for i, s in enumerate(half)]))
        server = h.FeedServer(root, tmp)
        syslog = h.Syslog(tmp)
        try:
            db = os.path.join(tmp, "v.db")
            conf = os.path.join(tmp, "v.conf")
            h.write_config(conf, db, [(f"feed{k}", f"{server.base}/f{k}.xml") for k in range(2)],
                           extra=f"alerts = syslog\n\n[topic {CABLES}]\n"
                                 f"references = {refs}/*.txt\nthreshold = 0.5\n")
            p = subprocess.run([h.VEILLED, "--check", "-c", conf], capture_output=True, text=True)
            h.check(p.returncode == 0 and "2 topics" in p.stdout, f"--check: {p.stdout.strip()} {p.stderr.strip()}")
            p = subprocess.run(syslog.command([h.VEILLED, "-c", conf, "--once"]), capture_output=True,
                               text=True, timeout=120)
            h.check(p.returncode == 0, f"veilled --once exits 0 ({p.stderr.strip()[-300:]})")

            want = sum(len(v) for v in expected.values())
            h.wait_for(lambda: sum("ALERT topic=" in l for l in syslog.lines()) >= want, 5)
            lines = [l for l in syslog.lines() if "ALERT topic=" in l]
            h.check(len(lines) == want, f"{want} alerts in all ({len(lines)})")
            for title, topics in expected.items():
                got = {t for t in (BELARUS, CABLES)
                       if any(f"ALERT topic={t} " in l and f'title="{title}"' in l for l in lines)}
                h.check(got == topics, f"«{title[:45]}» alerts under {sorted(topics)} (got {sorted(got)})")

            with sqlite3.connect(db) as c:
                n = c.execute("SELECT count(*) FROM verdicts").fetchone()[0]
                h.check(n == 2 * len(stories), f"one verdict per item and topic ({n})")
                rows = c.execute("SELECT topic, terms FROM verdicts WHERE relevant").fetchall()
            lead = {CABLES: {"finland", "cabl", "marin", "ancre"}, BELARUS: {"belarus"}}
            h.check(all(json.loads(terms) and json.loads(terms)[0][0] in lead[t] for t, terms in rows),
                    "each relevant verdict is led by one of its own topic's terms")
        finally:
            syslog.stop()
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
