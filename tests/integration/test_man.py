"""The manual pages in daemon/man: `mandoc -Tlint -Wwarning` finds nothing to say about them, and
they document what the code accepts: every key config.c knows, every command of veillectl and
every long option of veilled and veillectl."""

import glob
import os
import re
import shutil
import subprocess

import harness as h

MAN = os.path.join(h.SOURCE_DIR, "daemon", "man")
DAEMON = os.path.join(h.SOURCE_DIR, "daemon")


def source(name):
    with open(os.path.join(DAEMON, name)) as f:
        return f.read()


def page(name):
    with open(os.path.join(MAN, name)) as f:
        return f.read()


def long_options(text):
    """The long options of every `struct option ...[] = {...}` table in a C file."""
    names = set()
    for table in re.findall(r"struct option \w+\[\] = \{(.*?)\};", text, re.S):
        names.update(re.findall(r'\{"([a-z-]+)",', table))
    return names


def main():
    if not shutil.which("mandoc"):
        h.skip("mandoc is not installed (scripts/setup installs it)")
    pages = sorted(glob.glob(os.path.join(MAN, "*.[0-9]")))
    h.check([os.path.basename(p) for p in pages] == ["veille.conf.5", "veillectl.1", "veilled.8"],
            f"three pages: {[os.path.basename(p) for p in pages]}")
    for p in pages:
        r = subprocess.run(["mandoc", "-Tlint", "-Wwarning", p], capture_output=True, text=True)
        out = (r.stdout + r.stderr).strip()
        h.check(r.returncode == 0 and out == "", f"mandoc -Tlint {os.path.basename(p)} is silent: {out!r}")

    # veille.conf(5): each section and key the parser accepts.
    conf = source("config.c")
    conf5 = page("veille.conf.5")
    keys = set(re.findall(r'strcmp\(k, "([a-z_]+)"\) == 0', conf))
    h.check(len(keys) > 15, f"found the keys in config.c ({len(keys)})")
    for k in sorted(keys):
        h.check(f".It Cm {k} " in conf5, f"veille.conf(5) documents the key {k}")
    for sec in re.findall(r'strcmp\(hdr, "([a-z]+)"\) == 0', conf):
        h.check(f".Ss [{sec}" in conf5, f"veille.conf(5) has a section [{sec}]")

    # veillectl(1): each command and option.
    ctl = source("veillectl.c")
    ctl1 = page("veillectl.1")
    cmds = set(re.findall(r'strcmp\(cmd, "([a-z-]+)"\) == 0', ctl)) | set(re.findall(r'\{"([a-z-]+)", cmd_\w+,', ctl))
    h.check(len(cmds) >= 7, f"found veillectl's commands ({sorted(cmds)})")
    for c in sorted(cmds):
        h.check(f".It Cm {c}" in ctl1, f"veillectl(1) documents the command {c}")
    for o in sorted(long_options(ctl)):
        h.check(f"Fl \\-{o}" in ctl1, f"veillectl(1) documents --{o}")

    # veilled(8): each option, and the alert's MESSAGE_ID.
    d8 = page("veilled.8")
    for o in sorted(long_options(source("veilled.c"))):
        h.check(f"Fl \\-{o}" in d8, f"veilled(8) documents --{o}")
    msgid = re.search(r'#define ALERT_MESSAGE_ID "([0-9a-f]{32})"', source("alert.h")).group(1)
    h.check(msgid in d8, "veilled(8) gives the alerts' MESSAGE_ID")
    for field in sorted(set(re.findall(r'"(VEILLE_[A-Z]+)=', source("alert.c")))):
        h.check(f".It Va {field}" in d8, f"veilled(8) documents the journal field {field}")
    h.finish()


if __name__ == "__main__":
    main()
