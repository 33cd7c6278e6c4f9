"""veilled.service under a real systemd: boots a throw-away systemd (systemd-nspawn --boot on a
read-only view of this machine's root with a tmpfs overlay, private network), installs the build
into it with `cmake --install` (DESTDIR, copied in), serves feeds on the container's loopback, and
drives the units as an operator would: start veilled (Type=notify), reload it with one more feed,
start veille-export.service, stop veilled, then freeze it (SIGSTOP) under a short WatchdogSec.
Checks Result=success with no restart, Result=watchdog for the frozen one, the status line,
the alerts in the container's journal (fields, priority, the catalog's explanation with -x), the
alert line forwarded to /var/log/syslog by rsyslog, and the export file.

Skips, saying why, when this machine cannot boot a container (not root, no systemd-nspawn, no
writable cgroup hierarchy)."""

import json
import os
import re
import shutil
import subprocess
import time

import harness as h
from corpus import OFF_TOPIC, ON_TOPIC
from feedgen import WRITERS, item

MESSAGE_ID = re.search(r'#define ALERT_MESSAGE_ID "([0-9a-f]{32})"',
                       open(os.path.join(h.SOURCE_DIR, "daemon", "alert.h")).read()).group(1)
BOOT_TIMEOUT = 240  # the whole container run, boot to poweroff
PORT = 8080  # on the container's own loopback (--private-network)
CGROUP_ROOTS = ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified")

# Runs inside the container as a oneshot service; every result goes to /out.
DRIVER = r"""#!/bin/sh
exec >/out/driver.log 2>&1
set -x
say() { echo "$2" > "/out/$1"; }
wait_for() {  # wait_for SECONDS COMMAND...: polls COMMAND every 0.2 s
	n=$(($1 * 5)); shift
	while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.2; n=$((n - 1)); done
	return 1
}
alerts() { [ -n "$(journalctl -q -o cat MESSAGE_ID=@MSGID@)" ]; }

# Install: the DESTDIR tree from `cmake --install`, as an operator would on a live system.
# (tar keeps /lib, a symbolic link to usr/lib on Debian 12, a link.)
tar -C /install -cf - . | tar -C / -xf - --keep-directory-symlink || { say install-failed 1; exit 1; }
# Drop-ins of the test's own, if any (a sanitizer build's options).
[ -d /setup/dropins ] && cp -r /setup/dropins/. /run/systemd/system/
systemctl daemon-reload
journalctl --update-catalog
cp /setup/veille.conf /etc/veille/veille.conf
# Debian's rsyslog reads the journal's forward socket and writes /var/log/syslog.
systemctl start rsyslog.service || true

/setup/feedserver --root /feeds --port @PORT@ --port-file /run/feedserver.port --log /out/feeds.log &
wait_for 10 test -s /run/feedserver.port

systemctl start veilled.service; say start-rc $?
systemctl show -p MainPID --value veilled > /out/pid-before
wait_for 30 alerts; say alert-seen $?
wait_for 10 sh -c 'systemctl show -p StatusText --value veilled | grep -q "1 ok"'
systemctl show -p StatusText --value veilled > /out/status-before

# Reload with one more feed: same process, new feed fetched.
cp /setup/veille-reload.conf /etc/veille/veille.conf
systemctl reload veilled.service; say reload-rc $?
wait_for 20 grep -q ' /b.xml ' /out/feeds.log; say reload-fetched $?
wait_for 10 sh -c 'systemctl show -p StatusText --value veilled | grep -q "^2 feeds: 2 ok"'
systemctl show -p StatusText --value veilled > /out/status-after
systemctl show -p MainPID --value veilled > /out/pid-after

# The nightly export, now.
systemctl start veille-export.service; say export-rc $?
systemctl show -p Result --value veille-export.service > /out/export-result
mkdir -p /out/exports
cp /var/lib/veille/exports/* /out/exports/ || true

systemctl stop veilled.service; say stop-rc $?
systemctl show -p Result,NRestarts,ExecMainStatus,ActiveState veilled > /out/show
# The watchdog bites: a frozen daemon (SIGSTOP) ends with Result=watchdog. The drop-in only
# shortens the delays and keeps the failed state for inspection (no restart, no core file).
mkdir -p /run/systemd/system/veilled.service.d
printf '[Service]\nWatchdogSec=2s\nTimeoutStopSec=3s\nRestart=no\nLimitCORE=0\n' \
	> /run/systemd/system/veilled.service.d/zz-boot-test.conf
systemctl daemon-reload
systemctl start veilled.service
kill -STOP "$(systemctl show -p MainPID --value veilled)"
wait_for 20 sh -c '[ "$(systemctl show -p ActiveState --value veilled)" = failed ]'
systemctl show -p Result --value veilled > /out/frozen-result

journalctl -o json MESSAGE_ID=@MSGID@ > /out/alerts.json
journalctl -x --no-pager -o short MESSAGE_ID=@MSGID@ > /out/alerts-x.txt
journalctl -o json -u veilled.service > /out/veilled.json
wait_for 10 grep -q 'veilled\[[0-9]*\]: ALERT' /var/log/syslog
grep 'veilled\[[0-9]*\]: ALERT' /var/log/syslog > /out/syslog.txt
say done 0
"""

TARGET = """[Unit]
Description=veille boot test
Requires=veille-test-driver.service
After=veille-test-driver.service
AllowIsolate=yes
"""

DRIVER_UNIT = """[Unit]
Description=veille boot test driver
After=basic.target

[Service]
Type=oneshot
ExecStart=/bin/sh /setup/driver.sh
ExecStopPost=/bin/systemctl --no-block poweroff
TimeoutStartSec=180
"""


def config(feeds):
    """veille.conf as installed in /etc/veille, with the shipped topic and local feeds."""
    shipped = open(os.path.join(h.SOURCE_DIR, "conf", "veille.conf")).read()
    topic = re.search(r"^\[topic belarus-border\]\n(?:(?!\[).*\n)*", shipped, re.M).group(0)
    text = "[veille]\ninterval = 15m\naliases = aliases.txt\nalerts = auto\n\n" + topic
    for name, path in feeds:
        text += f"\n[feed {name}]\nurl = http://127.0.0.1:{PORT}/{path}\n"
    return text


def can_boot():
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("systemd-nspawn", "unshare", "cmake"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    if not os.path.exists("/lib/systemd/systemd"):
        return "systemd is not installed"
    for root in CGROUP_ROOTS:
        if not os.access(os.path.join(root, "cgroup.procs"), os.W_OK):
            return f"{root} is not a writable cgroup hierarchy"
    return None


def remove_cgroup(path):
    """rmdir depth-first: the container leaves its own cgroups below ours."""
    if not os.path.isdir(path):
        return
    for d, subdirs, _ in os.walk(path, topdown=False):
        for s in subdirs:
            try:
                os.rmdir(os.path.join(d, s))
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError as e:
        print(f"note: cannot remove {path}: {e}")


def boot(tmp, binds):
    """Boots the container; returns (exit status, seconds, console output)."""
    name = f"veille-boot-{os.getpid()}"
    cgroups = [os.path.join(r, name) for r in CGROUP_ROOTS]
    for c in cgroups:
        os.makedirs(c, exist_ok=True)
    root = os.path.join(tmp, "rootview")
    os.mkdir(root)
    script = r"""
set -e
for c in "$@"; do case "$c" in /sys/*) echo $$ > "$c/cgroup.procs";; esac; done
export LIBMOUNT_UTAB="$T/utab"
mount -t tmpfs tmpfs /run
mount --bind / "$ROOT"
mount -o remount,bind,ro "$ROOT"
exec systemd-nspawn --quiet --register=no --keep-unit --private-network --directory="$ROOT" \
	--volatile=overlay --machine=veille-boot $BINDS --boot -- systemd.unit=veille-test.target \
	systemd.log_target=console systemd.show_status=no
"""
    env = dict(os.environ, T=tmp, ROOT=root, BINDS=" ".join(binds))
    t0 = time.monotonic()
    try:
        p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"] + cgroups,
                           env=env, capture_output=True, text=True, timeout=BOOT_TIMEOUT, stdin=subprocess.DEVNULL)
        rc, out = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out = None, (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(errors="replace")
    finally:
        for c in cgroups:
            remove_cgroup(c)
    return rc, time.monotonic() - t0, out


def read(out, name):
    try:
        with open(os.path.join(out, name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def main():
    why = can_boot()
    if why:
        h.skip(f"cannot boot a throw-away systemd here: {why}")
    build = os.environ.get("VEILLE_BUILD_DIR", "")
    if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
        h.skip("VEILLE_BUILD_DIR does not name a configured build")
    with h.TempDir(prefix="veille-boot-") as tmp:
        dest = os.path.join(tmp, "install")
        p = subprocess.run(["cmake", "--install", build], env=dict(os.environ, DESTDIR=dest),
                           capture_output=True, text=True, timeout=120)
        if not h.check(p.returncode == 0, f"cmake --install into a DESTDIR ({p.stderr.strip()[-300:]})"):
            h.finish()

        setup = os.path.join(tmp, "setup")
        feeds = os.path.join(tmp, "feeds")
        out = os.path.join(tmp, "out")
        units = os.path.join(tmp, "units")
        for d in (setup, feeds, out, units):
            os.mkdir(d)
        with open(os.path.join(feeds, "a.xml"), "w") as f:
            f.write(WRITERS["rss2"]("a", [item(ON_TOPIC[0], "urn:boot:a1", "https://boot.example.fr/a1", 0),
                                          item(OFF_TOPIC[0], "urn:boot:a2", "https://boot.example.fr/a2", 5)]))
        with open(os.path.join(feeds, "b.xml"), "w") as f:
            f.write(WRITERS["atom"]("b", [item(OFF_TOPIC[1], "urn:boot:b1", "https://boot.example.fr/b1", 0)]))
        with open(os.path.join(setup, "veille.conf"), "w") as f:
            f.write(config([("a", "a.xml")]))
        with open(os.path.join(setup, "veille-reload.conf"), "w") as f:
            f.write(config([("a", "a.xml"), ("b", "b.xml")]))
        with open(os.path.join(setup, "driver.sh"), "w") as f:
            f.write(DRIVER.replace("@MSGID@", MESSAGE_ID).replace("@PORT@", str(PORT)))
        shutil.copy(h.FEEDSERVER, os.path.join(setup, "feedserver"))
        if h.cmake_cache(build, "VEILLE_SANITIZE") in ("ON", "1", "TRUE", "YES"):
            # LeakSanitizer stops the world with ptrace, which the units' hardening forbids
            # (SystemCallFilter, no capabilities): memory errors are still caught, leaks are
            # checked by the tests that run the binaries outside the units.
            print("note: sanitizer build: ASAN_OPTIONS=detect_leaks=0 for the units")
            for unit in ("veilled.service", "veille-export.service"):
                d = os.path.join(setup, "dropins", unit + ".d")
                os.makedirs(d)
                with open(os.path.join(d, "sanitizer.conf"), "w") as f:
                    f.write("[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0 "
                            "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1\n")
        with open(os.path.join(units, "veille-test.target"), "w") as f:
            f.write(TARGET)
        with open(os.path.join(units, "veille-test-driver.service"), "w") as f:
            f.write(DRIVER_UNIT)
        binds = [f"--bind-ro={dest}:/install", f"--bind-ro={setup}:/setup", f"--bind-ro={feeds}:/feeds",
                 f"--bind={out}:/out",
                 f"--bind-ro={units}/veille-test.target:/etc/systemd/system/veille-test.target",
                 f"--bind-ro={units}/veille-test-driver.service:/etc/systemd/system/veille-test-driver.service"]

        rc, secs, console = boot(tmp, binds)
        print(f"container ran for {secs:.1f} s, exit status {rc}")
        if read(out, "done") is None:
            print("--- console (tail) ---\n" + console[-4000:])
            print("--- driver.log (tail) ---\n" + (read(out, "driver.log") or "(none)")[-4000:])
        h.check(rc is not None, f"the container powered off within {BOOT_TIMEOUT} s")
        h.check(read(out, "done") == "0", "the driver ran to its end")

        h.check(read(out, "start-rc") == "0", "systemctl start veilled (Type=notify: READY=1 reached systemd)")
        h.check(read(out, "alert-seen") == "0", "an alert reached the container's journal")
        status = read(out, "status-before") or ""
        h.check(re.match(r"1 feeds: 1 ok, 0 failing, 0 disabled; today 2 items, 1 alerts; next fetch \S+Z$", status),
                f"StatusText after the first fetch: {status!r}")
        h.check(read(out, "reload-rc") == "0", "systemctl reload veilled")
        h.check(read(out, "reload-fetched") == "0", "the feed added by the reload is fetched")
        status = read(out, "status-after") or ""
        h.check(re.match(r"2 feeds: 2 ok, 0 failing, 0 disabled; today 3 items, 1 alerts; ", status),
                f"StatusText after the reload: {status!r}")
        h.check(read(out, "pid-before") and read(out, "pid-before") == read(out, "pid-after"),
                "the reload kept the same process")
        h.check(read(out, "export-rc") == "0" and read(out, "export-result") == "success",
                f"veille-export.service ran: rc {read(out, 'export-rc')}, Result={read(out, 'export-result')}")
        h.check(read(out, "stop-rc") == "0", "systemctl stop veilled")
        show = dict(l.split("=", 1) for l in (read(out, "show") or "").splitlines() if "=" in l)
        h.check(show.get("Result") == "success", f"Result=success ({show})")
        h.check(show.get("NRestarts") == "0", "no restart")
        h.check(show.get("ExecMainStatus") == "0", "exit status 0")

        h.check(read(out, "frozen-result") == "watchdog",
                f"a frozen veilled is killed by the watchdog (Result={read(out, 'frozen-result')})")

        alerts = [json.loads(l) for l in (read(out, "alerts.json") or "").splitlines() if l.strip()]
        h.check(len(alerts) == 1, f"one alert in the journal ({len(alerts)})")
        for a in alerts:
            h.check(a.get("VEILLE_TITLE") == ON_TOPIC[0][0] and a.get("VEILLE_FEED") == "a"
                    and a.get("VEILLE_URL") == "https://boot.example.fr/a1", "the alert's VEILLE_* fields")
            h.check(a.get("_SYSTEMD_UNIT") == "veilled.service", f"sent by veilled.service ({a.get('_SYSTEMD_UNIT')})")
            h.check(a.get("PRIORITY") == "4", f"a high-confidence alert is a warning (PRIORITY={a.get('PRIORITY')})")
        explained = read(out, "alerts-x.txt") or ""
        h.check("Subject: Alert: new article on belarus-border from feed a" in explained,
                f"journalctl -x explains it with the installed catalog:\n{explained[:600]}")
        log = [json.loads(l).get("MESSAGE", "") for l in (read(out, "veilled.json") or "").splitlines() if l.strip()]
        h.check(any("configuration reloaded" in m for m in log), "the reload is in veilled's journal")
        syslog = read(out, "syslog.txt")
        if syslog is None or not shutil.which("rsyslogd"):
            print("note: rsyslog is not installed: /var/log/syslog not checked")
        else:
            h.check(re.search(r"veilled\[\d+\]: ALERT topic=belarus-border score=\S+ feed=a url=https://boot\.example\.fr/a1 ",
                              syslog), f"the alert line in /var/log/syslog: {syslog!r}")

        exports = sorted(os.listdir(os.path.join(out, "exports"))) if os.path.isdir(os.path.join(out, "exports")) else []
        h.check(len(exports) == 1 and re.match(r"veille-\d{4}-\d{2}-\d{2}\.jsonl$", exports[0]),
                f"one dated export file: {exports}")
        if exports:
            rows = [json.loads(l) for l in open(os.path.join(out, "exports", exports[0])) if l.strip()]
            titles = sorted(r.get("title") for r in rows)
            h.check(titles == sorted([ON_TOPIC[0][0], OFF_TOPIC[0][0], OFF_TOPIC[1][0]]),
                    f"the export holds the three stored items: {titles}")
    h.finish()


if __name__ == "__main__":
    main()
