"""Writes RSS 2.0, RSS 1.0 (RDF) and Atom 1.0 documents for the integration tests."""

import html
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

BASE_TIME = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)


def _x(s):
    return html.escape(s, quote=True)


def rss2(title, items):
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">', "<channel>",
           f"<title>{_x(title)}</title><link>https://news.example.fr/</link>",
           "<description>Test feed</description>"]
    for it in items:
        out.append("<item>")
        out.append(f"<title>{_x(it['title'])}</title><link>{_x(it['link'])}</link>")
        out.append(f"<guid isPermaLink=\"false\">{_x(it['guid'])}</guid>")
        out.append(f"<pubDate>{format_datetime(it['date'])}</pubDate>")
        out.append(f"<dc:creator>Rédaction</dc:creator>")
        out.append(f"<description>{_x('<p>' + it['text'] + '</p>')}</description>")
        out.append("</item>")
    out.append("</channel></rss>")
    return "\n".join(out)


def rdf(title, items):
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
           'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">',
           '<channel rdf:about="https://news.example.fr/">',
           f"<title>{_x(title)}</title><link>https://news.example.fr/</link>"
           "<description>Test feed</description></channel>"]
    for it in items:
        out.append(f'<item rdf:about="{_x(it["link"])}">')
        out.append(f"<title>{_x(it['title'])}</title><link>{_x(it['link'])}</link>")
        out.append(f"<dc:date>{it['date'].strftime('%Y-%m-%dT%H:%M:%SZ')}</dc:date>")
        out.append(f"<description>{_x(it['text'])}</description>")
        out.append("</item>")
    out.append("</rdf:RDF>")
    return "\n".join(out)


def atom(title, items):
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<feed xmlns="http://www.w3.org/2005/Atom">',
           f"<title>{_x(title)}</title><id>urn:test:{_x(title)}</id>",
           "<updated>2026-11-02T08:00:00Z</updated>"]
    for it in items:
        out.append("<entry>")
        out.append(f"<title>{_x(it['title'])}</title><id>{_x(it['guid'])}</id>")
        out.append(f'<link rel="alternate" href="{_x(it["link"])}"/>')
        out.append(f"<published>{it['date'].strftime('%Y-%m-%dT%H:%M:%SZ')}</published>")
        out.append(f"<updated>{it['date'].strftime('%Y-%m-%dT%H:%M:%SZ')}</updated>")
        out.append("<author><name>Rédaction</name></author>")
        out.append(f'<content type="html">{_x("<div><p>" + it["text"] + "</p></div>")}</content>')
        out.append("</entry>")
    out.append("</feed>")
    return "\n".join(out)


WRITERS = {"rss2": rss2, "rdf": rdf, "atom": atom}


def item(story, guid, link, minutes):
    return {"title": story[0], "text": story[1], "guid": guid, "link": link,
            "date": BASE_TIME + timedelta(minutes=minutes)}


def write_stories(path, title, stories, urn, site):
    """Writes an RSS 2.0 file at path: one item per (title, text) story, item i with guid
    URN:i and link SITE/i, a minute apart."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(rss2(title, [item(s, f"{urn}:{i}", f"{site}/{i}", i)
                             for i, s in enumerate(stories)]))
