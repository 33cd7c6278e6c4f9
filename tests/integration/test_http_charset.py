"""The charset of a response's Content-Type decodes a feed that declares no encoding, whether the
server writes it bare (charset=windows-1251) or quoted (charset="windows-1251"): veilled --once
stores "Минск", not what a guess at Latin-1 or Windows-1252 would make of its bytes."""

import os
import sqlite3
import subprocess
import urllib.parse

import harness as h

DOC = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Cyrillic</title>'
       '<item><title>{title}</title><link>https://cyr.example.fr/{n}</link><guid>urn:c:{n}</guid>'
       '<description>{title} : le texte de l article {n}.</description></item>'
       '</channel></rss>')


def main():
    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.mkdir(root)
        titles = {"bare": "\u041c\u0438\u043d\u0441\u043a \u0437\u0438\u043c\u043e\u0439",
                  "quoted": "\u041c\u0438\u043d\u0441\u043a \u043b\u0435\u0442\u043e\u043c"}
        for n, (name, title) in enumerate(titles.items()):
            with open(os.path.join(root, f"{name}.xml"), "wb") as f:
                f.write(DOC.format(title=title, n=n).encode("cp1251"))
        server = h.FeedServer(root, tmp)
        try:
            db = os.path.join(tmp, "v.db")
            conf = os.path.join(tmp, "v.conf")
            types = {"bare": "text/xml; charset=windows-1251",
                     "quoted": 'text/xml; charset="windows-1251"'}
            feeds = [(name, f"{server.base}/type/{urllib.parse.quote(t, safe='')}/{name}.xml")
                     for name, t in types.items()]
            h.write_config(conf, db, feeds, extra="alerts = none\n")
            p = subprocess.run([h.VEILLED, "-c", conf, "--once"], capture_output=True, text=True,
                               timeout=60)
            h.check(p.returncode == 0, f"veilled --once exits 0 ({p.stderr.strip()[-300:]})")
            with sqlite3.connect(db) as c:
                got = dict(c.execute("select f.name, i.title from items i join feeds f"
                                     " on f.id = i.feed_id"))
            for name, title in titles.items():
                h.check(got.get(name) == title,
                        f"{name} charset: the title decodes as {title!r} ({got.get(name)!r})")
        finally:
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
