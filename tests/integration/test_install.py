"""`cmake --install` into a DESTDIR: the daemon in sbin and the tool in bin under the prefix (/usr
by default), the units where systemd looks, pointing at those binaries, the journal catalog where
journalctl finds it, the configuration and reference articles in /etc/veille (valid as
installed), the manual pages in man1/man5/man8. Installing again keeps an edited veille.conf and
puts the shipped one beside it as veille.conf.new."""

import os
import re
import shutil
import subprocess

import harness as h


def tree(root):
    found = set()
    for d, _, files in os.walk(root):
        for n in files:
            found.add("/" + os.path.relpath(os.path.join(d, n), root))
    return found


def main():
    build = os.environ.get("VEILLE_BUILD_DIR", "")
    if not build or not os.path.exists(os.path.join(build, "CMakeCache.txt")):
        h.skip("VEILLE_BUILD_DIR does not name a configured build")
    prefix = h.cmake_cache(build, "CMAKE_INSTALL_PREFIX")
    confdir = h.cmake_cache(build, "VEILLE_CONFDIR")
    unitdir = h.cmake_cache(build, "VEILLE_UNITDIR")
    catdir = h.cmake_cache(build, "VEILLE_CATALOGDIR")
    if prefix == "/usr":
        h.check(unitdir == subprocess.run(["pkg-config", "--variable=systemdsystemunitdir", "systemd"],
                                          capture_output=True, text=True).stdout.strip(),
                f"units go where systemd.pc says ({unitdir})")
    else:
        print(f"note: this build was configured with the prefix {prefix}, not the default /usr")
    refs = sorted(os.listdir(os.path.join(h.SOURCE_DIR, "conf", "reference")))
    expected = {
        f"{prefix}/sbin/veilled", f"{prefix}/bin/veillectl",
        f"{unitdir}/veilled.service", f"{unitdir}/veille-export.service", f"{unitdir}/veille-export.timer",
        f"{catdir}/veille.catalog",
        f"{confdir}/veille.conf", f"{confdir}/aliases.txt",
        f"{prefix}/share/man/man1/veillectl.1", f"{prefix}/share/man/man5/veille.conf.5",
        f"{prefix}/share/man/man8/veilled.8",
    } | {f"{confdir}/reference/{r}" for r in refs}
    with h.TempDir() as tmp:
        dest = os.path.join(tmp, "root")
        env = dict(os.environ, DESTDIR=dest)
        p = subprocess.run(["cmake", "--install", build], env=env, capture_output=True, text=True, timeout=120)
        h.check(p.returncode == 0, f"cmake --install exits 0 ({p.stderr.strip()[-300:]})")
        got = tree(dest)
        h.check(got == expected, f"the installed tree: missing {sorted(expected - got)}, extra {sorted(got - expected)}")
        for b in (f"{prefix}/sbin/veilled", f"{prefix}/bin/veillectl"):
            h.check(os.access(dest + b, os.X_OK), f"{b} is executable")

        # Each unit's ExecStart runs an installed binary with the installed configuration.
        for unit in ("veilled.service", "veille-export.service"):
            text = open(f"{dest}{unitdir}/{unit}").read()
            m = re.search(r"^ExecStart=(\S+) -c (\S+)", text, re.M)
            h.check(m is not None, f"{unit} has ExecStart=BINARY -c CONFIG")
            if m:
                h.check(m.group(1) in expected, f"{unit} runs {m.group(1)}, which is installed")
                h.check(m.group(2) == f"{confdir}/veille.conf", f"{unit} reads {m.group(2)}")
            h.check(not re.search(r"@[A-Z_]+@", text), f"{unit}: every @VARIABLE@ was substituted")

        # The installed configuration is valid where it lies (relative paths to its references).
        p = subprocess.run([dest + f"{prefix}/sbin/veilled", "--check", "-c", f"{dest}{confdir}/veille.conf"],
                           capture_output=True, text=True, timeout=60)
        h.check(p.returncode == 0 and ": ok: " in p.stdout, f"veilled --check on the installed configuration: "
                f"{(p.stdout + p.stderr).strip()[:300]}")

        # journalctl finds the catalog where it was installed.
        if shutil.which("journalctl"):
            subprocess.run(["journalctl", f"--root={dest}", "--update-catalog"], capture_output=True, timeout=60)
            p = subprocess.run(["journalctl", f"--root={dest}", "--list-catalog"], capture_output=True, text=True,
                               timeout=60)
            h.check("6f1c3a9e2b7d4e58a0c4d9b1e7f2a365 veille:" in p.stdout,
                    f"journalctl --root --list-catalog lists the alert ({p.stdout.strip()[:200]!r})")
            shutil.rmtree(os.path.join(dest, "var"))

        # Again, after the operator edited veille.conf.
        conf = f"{dest}{confdir}/veille.conf"
        with open(conf, "a") as f:
            f.write("\n; edited by the operator\n")
        edited = open(conf).read()
        p = subprocess.run(["cmake", "--install", build], env=env, capture_output=True, text=True, timeout=120)
        h.check(p.returncode == 0, "a second cmake --install exits 0")
        h.check(open(conf).read() == edited, "the edited veille.conf is kept")
        shipped = open(os.path.join(h.SOURCE_DIR, "conf", "veille.conf")).read()
        h.check(os.path.exists(conf + ".new") and open(conf + ".new").read() == shipped,
                "the shipped configuration is beside it as veille.conf.new")
        h.check(tree(dest) == expected | {f"{confdir}/veille.conf.new"}, "nothing else changed in the tree")
    h.finish()


if __name__ == "__main__":
    main()
