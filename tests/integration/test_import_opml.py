"""veillectl import-opml with subscription lists written the way Thunderbird (nested folders, its
own namespace, entities in attributes) and newsboat (flat, empty titles) export them: feeds are
appended to the configuration with valid unique names, URLs already configured and non-HTTP ones
are skipped, comments and everything else in the file stay byte for byte, the result loads, and a
second import adds nothing. Broken, hostile and non-OPML files are refused with one line naming
the file and line, leaving the configuration untouched."""

import json
import os
import subprocess

import harness as h

DATA = os.path.join(h.SOURCE_DIR, "tests", "data", "opml")


def ctl(conf, *args):
    return subprocess.run([h.VEILLECTL, "-c", conf] + list(args), capture_output=True, text=True,
                          timeout=60)


def main():
    with h.TempDir() as tmp:
        conf = os.path.join(tmp, "veille.conf")
        h.write_config(conf, os.path.join(tmp, "veille.db"),
                       [("lemonde-europe", "https://www.lemonde.fr/europe/rss_full.xml"),
                        ("rfi-europe", "https://www.rfi.fr/fr/europe/rss?old=1")],
                       extra="; a comment the operator wrote, kept as is\n# and another\n")
        os.chmod(conf, 0o640)
        original = open(conf, "rb").read()

        p = ctl(conf, "import-opml", "--dry-run", os.path.join(DATA, "thunderbird.opml"))
        h.check(p.returncode == 0 and "6 feeds would be added" not in p.stdout and "5 feeds would be added" in p.stdout,
                f"--dry-run says what it would add: {p.stdout.strip().splitlines()[-1:]}")
        h.check(open(conf, "rb").read() == original, "--dry-run leaves the file alone")

        p = ctl(conf, "import-opml", "--json", os.path.join(DATA, "thunderbird.opml"))
        h.check(p.returncode == 0, f"import of the Thunderbird export exits 0 ({p.stderr.strip()})")
        rows = [json.loads(l) for l in p.stdout.splitlines()]
        by_url = {r["url"]: r for r in rows}
        want = {
            "https://www.lemonde.fr/europe/rss_full.xml": ("exists", "lemonde-europe"),
            "https://www.lefigaro.fr/rss/figaro_international.xml": ("added", "toute-l-actualite-internationale-le-figaro"),
            "https://www.ouest-france.fr/rss/ukraine": ("added", "ukraine-toute-l-actualite"),
            "https://www.lemonde.fr/europe/rss_full.xml?section=2": ("added", "le-monde-fr-europe"),
            "https://www.belta.by/rss/": ("added", "belta-by"),
            "https://www.france24.com/fr/europe/rss": ("added", "france-24-europe"),
            "file:///home/analyst/feeds/local.xml": ("skipped", None),
        }
        got = {u: (r["status"], r["name"]) for u, r in by_url.items()}
        h.check(got == want, f"nested outlines found, names derived, duplicates and file:// skipped: {got}")
        h.check(all(r["line"] > 0 for r in rows), "each outline reported with its line")

        text = open(conf, "rb").read()
        h.check(text.startswith(original), "the original file is kept byte for byte, comments included")
        h.check(os.stat(conf).st_mode & 0o777 == 0o640, "the file keeps its mode")
        h.check(not [n for n in os.listdir(tmp) if n.startswith(".veille.conf")], "no temporary file left")
        h.check("; Toute l'actualité internationale - Le Figaro\n[feed toute-l-actualite-internationale-le-figaro]\n"
                "url = https://www.lefigaro.fr/rss/figaro_international.xml\n" in text.decode(),
                "each new feed is a [feed NAME] section with its title as a comment")
        p = subprocess.run([h.VEILLED, "--check", "-c", conf], capture_output=True, text=True, timeout=60)
        h.check(p.returncode == 0 and "7 feeds" in p.stdout, f"the new configuration checks ok: {p.stdout.strip()} {p.stderr.strip()}")

        p = ctl(conf, "import-opml", os.path.join(DATA, "newsboat.opml"))
        h.check(p.returncode == 0 and "reload veilled" in p.stdout,
                f"the newsboat import reminds to reload ({p.stdout.strip().splitlines()[-1:]})")
        lines = p.stdout.splitlines()
        for name, url in [("rfi-europe-2", "https://www.rfi.fr/fr/europe/rss"),
                          ("franceinfo-europe", "https://www.francetvinfo.fr/monde/europe.rss"),
                          ("fr-euronews-com", "https://fr.euronews.com/rss?level=theme&name=news"),
                          ("courrier-international-a-la-une", "https://www.courrierinternational.com/feed/all/rss.xml")]:
            h.check(any(l.split()[:3] == ["added", name, url] for l in lines), f"added {name} {url}")
        p = subprocess.run([h.VEILLED, "--check", "-c", conf], capture_output=True, text=True, timeout=60)
        h.check(p.returncode == 0 and "11 feeds" in p.stdout, f"and it still checks ok: {p.stdout.strip()}")

        before = open(conf, "rb").read()
        p = ctl(conf, "import-opml", os.path.join(DATA, "thunderbird.opml"))
        h.check(p.returncode == 0 and "0 feeds added" in p.stdout and open(conf, "rb").read() == before,
                "importing again adds nothing and leaves the file alone")

        bad = {
            "broken.opml": ('<?xml version="1.0"?>\n<opml version="1.0">\n<body>\n'
                            '<outline xmlUrl="https://a.example/rss" title="A">\n</body></opml>\n', "line 5"),
            "bomb.opml": ('<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
                          '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n<opml><body>'
                          '<outline xmlUrl="https://a.example/&b;" title="&b;"/></body></opml>\n',
                          "document type"),
            "external.opml": ('<?xml version="1.0"?>\n<!DOCTYPE opml SYSTEM "http://127.0.0.1:1/x.dtd">\n'
                              '<opml><body/></opml>\n', "document type"),
            "feed.opml": ('<?xml version="1.0"?>\n<rss version="2.0"><channel/></rss>\n', "not OPML"),
        }
        # The same declarations in encodings whose bytes hide "<!DOCTYPE" (libxml2 reads the
        # encoding from the XML declaration): an attribute default would add a feed the file
        # does not show, and entities expanded in attributes take quadratic time.
        hidden = ('<!DOCTYPE opml [<!ATTLIST outline xmlUrl CDATA "https://hidden.example/rss">]>\n'
                  '<opml version="2.0"><body><outline text="folder"/></body></opml>\n')
        bad["utf7.opml"] = ('<?xml version="1.0" encoding="UTF-7"?>\n'
                            + hidden.replace("<", "+ADw-").replace(">", "+AD4-"), "document type")
        bad["ebcdic.opml"] = (('<?xml version="1.0" encoding="IBM037"?>\n' + hidden)
                              .encode("cp037"), "document type")
        bad["utf16.opml"] = (('<?xml version="1.0" encoding="UTF-16"?>\n' + hidden)
                             .encode("utf-16"), "document type")
        for name, (content, words) in bad.items():
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(content if isinstance(content, bytes) else content.encode())
            p = ctl(conf, "import-opml", path)
            h.check(p.returncode == 1 and p.stderr.startswith(f"veillectl: {path}: ") and words in p.stderr
                    and p.stderr.count("\n") == 1, f"{name} refused in one line: {p.stderr.strip()}")
        h.check(open(conf, "rb").read() == before, "refused files change nothing")
        # A UTF-16 export holds NUL bytes: read whole, not up to the first.
        utf16 = os.path.join(tmp, "utf16-ok.opml")
        with open(utf16, "wb") as f:
            f.write(('<?xml version="1.0" encoding="UTF-16"?>\n<opml version="2.0"><body>'
                     '<outline text="Été" xmlUrl="https://utf16.example/rss"/></body></opml>\n'
                     ).encode("utf-16"))
        p = ctl(conf, "import-opml", "--dry-run", utf16)
        h.check(p.returncode == 0 and "https://utf16.example/rss" in p.stdout
                and "1 feed would be added" in p.stdout,
                f"a UTF-16 export is read: {p.stdout.strip()} {p.stderr.strip()}")
        p = ctl(conf, "import-opml")
        h.check(p.returncode == 2, "import-opml without FILE is a usage error")
        p = ctl(conf, "import-opml", os.path.join(tmp, "missing.opml"))
        h.check(p.returncode == 1 and "missing.opml" in p.stderr, "a missing file is named")
    h.finish()


if __name__ == "__main__":
    main()
