"""veillectl parse over every real feed document in ../shared/feeds/real/ (read from there, never
copied): no crash (no signal, no sanitizer report), items from every well-formed document, and
every item line is the contract's JSON object."""

import json
import os
import re
import subprocess

import harness as h

KEYS = {"source", "id", "link", "title", "published", "author", "summary", "content"}


def well_formed_files(real):
    """Files SOURCES.md marks 'wf: yes' (checked there with xmllint)."""
    wf = set()
    current = None
    with open(os.path.join(real, "SOURCES.md")) as f:
        for line in f:
            m = re.match(r"^### `(.+)`", line)
            if m:
                current = m.group(1)
            elif current and "wf: yes" in line:
                wf.add(current)
    return wf


def main():
    real = os.path.join(h.SHARED_DIR, "feeds", "real")
    if not os.path.isdir(real):
        h.skip(f"{real} is absent: the real feed documents are not shipped with the project")
    files = sorted(f for f in os.listdir(real) if f.endswith(".xml"))
    wf = well_formed_files(real)
    h.check(len(files) >= 50 and len(wf) >= 40, f"{len(files)} documents, {len(wf)} well-formed")
    total = 0
    for name in files:
        p = subprocess.run([h.VEILLECTL, "parse", os.path.join(real, name)], capture_output=True,
                           text=True, errors="replace", timeout=60)
        h.check(p.returncode in (0, 1) and "Sanitizer" not in p.stderr and "LeakSanitizer" not in p.stderr,
                f"{name}: no crash (status {p.returncode})")
        items = []
        bad_json = 0
        for line in p.stdout.splitlines():
            try:
                items.append(json.loads(line))
            except ValueError:
                bad_json += 1
        h.check(bad_json == 0 and all(set(i) == KEYS for i in items), f"{name}: JSON Lines with the contract's keys")
        if p.returncode == 1:
            h.check(p.stderr.count("\n") >= 1 and name in p.stderr, f"{name}: the error names the file: {p.stderr.strip()[:120]}")
        if name in wf:
            h.check(p.returncode == 0 and len(items) > 0, f"{name}: well-formed, {len(items)} items")
        total += len(items)
    print(f"{total} items from {len(files)} documents")
    h.finish()


if __name__ == "__main__":
    main()
