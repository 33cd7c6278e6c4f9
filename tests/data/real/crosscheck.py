#!/usr/bin/env python3
"""Cross-checks the golden files tests/data/real/*.expected against the real documents with
tools independent of the C parser: xml.etree for well-formed documents (item count, ids, links
with xml:base, dates with email.utils / datetime, and the SHA-1 of titles and texts through a
separate HTML-to-text written with html.parser), regular expressions for the broken ones (count,
ids, links). It prints every disagreement; the ones left are explained in README.md.

usage: crosscheck.py REAL_DOCS_DIR [GOLDEN_DIR]
"""
import email.utils
import hashlib
import html
import html.entities
import html.parser
import os
import re
import sys
import urllib.parse
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

ATOM = ("http://www.w3.org/2005/Atom", "http://purl.org/atom/ns#")
RSS_NS = ("", "http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/")
CONTENT = "http://purl.org/rss/1.0/modules/content/"
DC = "http://purl.org/dc/elements/1.1/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
MEDIA = ("http://search.yahoo.com/mrss/", "http://search.yahoo.com/mrss")
XMLBASE = "{http://www.w3.org/XML/1998/namespace}base"

BLOCKS = set("address article aside blockquote br caption dd details div dl dt fieldset "
             "figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre "
             "section summary table td th tr ul".split())
SKIP = set("applet audio button canvas embed head iframe map math noembed noscript object "
           "script select style svg template textarea title video".split())
VOID = set("area base br col embed hr img input link meta param source track wbr".split())


class Text(html.parser.HTMLParser):
    """HTML to text by the same rules, written independently."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.pending, self.skip = [], 0, 0

    def brk(self, k):
        self.pending = max(self.pending, k)

    def handle_starttag(self, tag, attrs):
        if tag in SKIP and tag not in VOID:
            self.skip += 1
        if tag in BLOCKS:
            self.brk(2)
        elif tag == "img":
            self.brk(1)

    def handle_endtag(self, tag):
        if tag in SKIP and self.skip:
            self.skip -= 1
        if tag in BLOCKS:
            self.brk(2)

    def handle_data(self, data):
        if self.skip:
            return
        for piece in re.split(r"([ \t\n\r\f\v]+)", data):
            if not piece:
                continue
            if piece.isspace() and all(c in " \t\n\r\f\v" for c in piece):
                self.brk(1)
                continue
            if self.out and self.pending:
                self.out.append("\n" if self.pending == 2 else " ")
            self.pending = 0
            self.out.append(piece)


def html_text(s):
    p = Text()
    p.feed(s)
    p.close()
    return "".join(p.out).strip(" \n") or None


def plain(s):
    # ASCII white space only: NBSP and thin spaces are content (French typography)
    t = " ".join(w for w in re.split(r"[ \t\n\r\f\v]+", s) if w) if s else ""
    return t or None


def looks_html(s):
    return bool(re.search(r"<[A-Za-z_:/]|&#?[A-Za-z0-9]{1,31};", s))


def sha(s):
    return hashlib.sha1(s.encode()).hexdigest() if s else "-"


def iso(dt):
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


FR_DAYS = {"lun": 0, "mar": 1, "mer": 2, "jeu": 3, "ven": 4, "sam": 5, "dim": 6}


def numeric_fr(s):
    """'dim, 05/03/2020 - 11:30' (Drupal): the order of day and month is whichever agrees with
    the day name; None unless exactly one does."""
    m = re.match(r"^(\w+), (\d\d)/(\d\d)/(\d{4}) - (\d\d):(\d\d)$", s)
    if not m or m.group(1) not in FR_DAYS:
        return None
    a, b, y, hh, mm = (int(m.group(i)) for i in range(2, 7))
    found = []
    for mo, d in ((a, b), (b, a)):
        try:
            dt = datetime(y, mo, d, hh, mm, tzinfo=timezone.utc)
        except ValueError:
            continue
        if dt.weekday() == FR_DAYS[m.group(1)]:
            found.append(iso(dt))
    return found[0] if len(set(found)) == 1 else None


def date(s):
    s = (s or "").strip()
    if not s:
        return None
    if numeric_fr(s):
        return numeric_fr(s)
    try:
        return iso(email.utils.parsedate_to_datetime(s))
    except (TypeError, ValueError, IndexError):
        pass
    try:
        d = datetime.fromisoformat(s.replace("Z", "+00:00"))
        if d.tzinfo is None:
            d = d.replace(tzinfo=timezone.utc)
        return iso(d)
    except ValueError:
        return None


def ns_local(tag):
    if tag.startswith("{"):
        ns, local = tag[1:].split("}", 1)
        return ns, local
    return "", tag


def text_of(e):
    return "".join(e.itertext())


def inner_xml(e, esc=True):
    """Child markup re-serialised without attributes; text escaped for xhtml constructs, kept as
    HTML source for RSS descriptions that carry raw child elements."""
    q = (lambda t: html.escape(t or "", quote=False)) if esc else (lambda t: t or "")
    out = [q(e.text)]
    for c in e:
        _, local = ns_local(c.tag)
        if len(c) == 0 and not c.text:
            out.append("<%s/>" % local)
        else:
            out.append("<%s>" % local + inner_xml(c, esc) + "</%s>" % local)
        out.append(q(c.tail))
    return "".join(out)


def atom_text(e):
    t = (e.get("type") or "").lower()
    mode = e.get("mode")
    if t in ("xhtml", "application/xhtml+xml") or (mode == "xml" and "html" in t):
        return html_text(inner_xml(e))
    if t in ("html", "text/html") or (mode == "escaped" and t and t != "text/plain"):
        return html_text(text_of(e))
    return plain(text_of(e))


def well_formed_facts(root, fmt):
    items = []

    def walk(e, base, in_item):
        b = e.get(XMLBASE)
        if b is not None:
            base = urllib.parse.urljoin(base, b) if base else b
        ns, local = ns_local(e.tag)
        is_item = (fmt == "atom" and local == "entry" and ns in ATOM + ("",)) or (
            fmt != "atom" and local == "item" and ns in RSS_NS)
        if is_item and not in_item:
            items.append(item_facts(e, base, fmt))
            return
        for c in e:
            walk(c, base, in_item)

    walk(root, None, False)
    return items


def resolve(ref, base):
    ref = ref.strip()
    if not ref:
        return None
    return urllib.parse.urljoin(base, ref) if base else ref


def item_facts(it, base, fmt):
    f = {"id": None, "link": None, "pub": None, "upd": None, "title": None, "summary": None,
         "content": None, "media": None, "permalink": True}
    if fmt == "rdf":
        a = it.get("{%s}about" % RDF)
        f["id"] = plain(a) if a else None
    for c in it:
        ns, local = ns_local(c.tag)
        cbase = base
        if c.get(XMLBASE):
            cbase = urllib.parse.urljoin(base or "", c.get(XMLBASE))
        first = lambda k, v: f.__setitem__(k, v) if f[k] is None else None
        if ns in ATOM and local == "link" or (fmt == "atom" and ns == "" and local == "link"):
            rel = c.get("rel")
            if f["link"] is None and (rel is None or rel == "alternate") and c.get("href"):
                f["link"] = resolve(c.get("href"), cbase)
        elif fmt != "atom" and ns in RSS_NS:
            if local == "title" and f["title"] is None:
                f["title"] = ("h", text_of(c))
            elif local == "link":
                first("link", resolve(text_of(c), cbase))
            elif local == "guid" and f["id"] is None:
                f["id"] = plain(text_of(c))
                f["permalink"] = (c.get("isPermaLink") or "").lower() != "false"
            elif local == "description":
                first("summary", html_text(inner_xml(c, False)))
            elif local == "pubDate":
                first("pub", text_of(c))
        elif ns in ATOM or (fmt == "atom" and ns == ""):
            if local == "id":
                first("id", plain(text_of(c)))
            elif local == "title" and f["title"] is None:
                f["title"] = ("a", c)
            elif local == "summary":
                first("summary", atom_text(c))
            elif local == "content":
                first("content", atom_text(c))
            elif local in ("published", "issued", "created"):
                first("pub", text_of(c))
            elif local in ("updated", "modified"):
                first("upd", text_of(c))
        elif ns == CONTENT and local == "encoded":
            first("content", html_text(inner_xml(c, False)))
        elif ns == DC and local == "date":
            first("pub", text_of(c))
        if ns in MEDIA:
            for m in c.iter():
                mns, ml = ns_local(m.tag)
                if mns in MEDIA and ml == "description" and f["media"] is None:
                    t = (m.get("type") or "").lower()
                    f["media"] = html_text(text_of(m)) if t == "html" else plain(text_of(m))
    t = f["title"]
    if t is None:
        title = None
    elif t[0] == "h":
        title = html_text(t[1]) if looks_html(t[1]) else plain(t[1])
    else:
        title = atom_text(t[1])
    if title:
        title = title.replace("\n", " ")
    if f["link"] is None and f["id"] and f["permalink"] and fmt == "rss" and \
            re.match(r"https?://", f["id"], re.I):
        f["link"] = f["id"]
    content = f["content"]
    if content is None and f["summary"] is None:
        content = f["media"]
    pub = date(f["pub"]) or date(f["upd"])
    return {"id": f["id"] or "-", "link": f["link"] or "-", "published": pub,
            "title_sha1": sha(title), "summary_sha1": sha(f["summary"]),
            "content_sha1": sha(content)}


def golden(path):
    g = {"items": [], "count": "0"}
    cur = None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("#"):
            continue
        k, _, v = line.partition(" ")
        if k == "item":
            cur = {}
            g["items"].append(cur)
        elif cur is not None:
            cur[k] = v
        else:
            g["count" if k == "items" else k] = v
    return g


def repair(raw):
    """A python mend of the common damage (not the C code's): text before the declaration,
    undeclared HTML entities, bare '&', forbidden control characters, bytes that are not UTF-8
    (read as windows-1252 when there is no declaration, else replaced)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        declared = re.match(rb"\s*<\?xml[^>]*encoding=", raw)
        text = raw.decode("utf-8", errors="replace") if declared else raw.decode("cp1252")
    text = text.lstrip("\ufeff \t\r\n")
    text = re.sub(r"^<\?xml[^>]*\?>", "", text)
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", " ", text)
    pieces = re.split(r"(<!\[CDATA\[.*?\]\]>)", text, flags=re.S)

    def ent(m):
        name = m.group(1)
        if name.startswith("#"):
            v = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
            ok = v in (9, 10, 13) or 0x20 <= v <= 0xD7FF or 0xE000 <= v <= 0xFFFD or v >= 0x10000
            return m.group(0) if ok else " "
        if name in ("amp", "lt", "gt", "quot", "apos"):
            return m.group(0)
        if name in html.entities.name2codepoint:
            return "&#%d;" % html.entities.name2codepoint[name]
        return "&amp;" + name + ";"

    for i in range(0, len(pieces), 2):
        p = re.sub(r"&(#[xX][0-9a-fA-F]+|#[0-9]+|[A-Za-z][A-Za-z0-9]*);", ent, pieces[i])
        pieces[i] = re.sub(r"&(?!#[xX][0-9a-fA-F]+;|#[0-9]+;|[A-Za-z][A-Za-z0-9]*;)", "&amp;", p)
    return ET.fromstring("".join(pieces).encode("utf-8"))


def regex_facts(raw):
    """For documents that are not well-formed: count, ids and links by pattern."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    atom = re.search(r"<feed[\s>]", text) is not None
    parts = re.split(r"<entry[\s>]" if atom else r"<item[\s>]", text)[1:]
    out = []
    for p in parts:
        # links inside descriptions (CDATA HTML) are not the item's
        p = re.sub(r"<description>.*?</description>", "", p, flags=re.S)
        m = re.search(r"<guid[^>]*>\s*(?:<!\[CDATA\[)?\s*(.*?)\s*(?:\]\]>)?\s*</guid>", p, re.S) \
            or re.search(r"<id>\s*(.*?)\s*</id>", p, re.S)
        ln = re.search(r"<link>\s*(.*?)\s*</link>", p, re.S) or \
            re.search(r"<link[^>]*rel=\"alternate\"[^>]*href=\"([^\"]*)\"", p) or \
            re.search(r"<link[^>]*href=\"([^\"]*)\"", p)
        out.append({"id": (html.unescape(m.group(1)) if m else "") or "-",
                    "link": (html.unescape(ln.group(1)) if ln else "") or "-"})
    return out


def main():
    real = sys.argv[1]
    gold = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))
    problems = 0
    for name in sorted(os.listdir(real)):
        if not name.endswith(".xml"):
            continue
        raw = open(os.path.join(real, name), "rb").read()
        g = golden(os.path.join(gold, name[:-4] + ".expected"))
        msgs = []
        msgs_prefix = ""
        if g.get("file_sha1") != hashlib.sha1(raw).hexdigest():
            msgs.append("file SHA-1 differs")
        try:
            root = ET.fromstring(raw)
            wf = True
        except ET.ParseError:
            try:
                root = repair(raw)
                wf = True
                msgs_prefix = "(repaired) "
            except ET.ParseError:
                wf = False
        if wf:
            ns, local = ns_local(root.tag)
            fmt = {"rss": "rss", "RDF": "rdf", "feed": "atom"}.get(local)
            if fmt is None:
                if not g.get("result", "").startswith("error"):
                    msgs.append("not a feed but golden says %s" % g.get("result"))
            else:
                facts = well_formed_facts(root, fmt)
                if len(facts) != len(g["items"]):
                    msgs.append("count %d vs golden %d" % (len(facts), len(g["items"])))
                for i, (a, b) in enumerate(zip(facts, g["items"])):
                    for k in ("id", "link", "title_sha1", "summary_sha1", "content_sha1"):
                        if a[k] != b.get(k):
                            msgs.append("item %d %s: %s vs golden %s" % (i, k, a[k], b.get(k)))
                    if a["published"] is not None and a["published"] != b.get("published"):
                        msgs.append("item %d published %s vs golden %s" %
                                    (i, a["published"], b.get("published")))
                    if a["published"] is None and b.get("published") != "-":
                        msgs.append("item %d published: python cannot read it, golden %s "
                                    "(check by hand)" % (i, b.get("published")))
        else:
            facts = regex_facts(raw)
            if len(facts) != len(g["items"]):
                msgs.append("(not well-formed) count %d by pattern vs golden %d" %
                            (len(facts), len(g["items"])))
            gi = {b.get("id"): b for b in g["items"]}
            same = len(facts) == len(g["items"])
            for i, a in enumerate(facts):
                b = g["items"][i] if same else gi.get(a["id"])
                if b is None:
                    msgs.append("(not well-formed) id %s not in golden" % a["id"])
                elif a["link"] != "-" and b.get("link") != a["link"]:
                    msgs.append("(not well-formed) id %s link %s vs golden %s" %
                                (a["id"], a["link"], b.get("link")))
        label = "ok" if not msgs else "%d issue(s)" % len(msgs)
        if wf and msgs_prefix:
            label += " (checked after a python repair)"
        print("%-48s %s" % (name, label))
        for m in msgs:
            print("    " + m)
        problems += len(msgs)
    print("issues:", problems)


if __name__ == "__main__":
    main()
