"""Shared plumbing for veille's integration tests: temporary folders, the fixture feed server,
a private rsyslogd with a /dev/log of its own, and a fake NOTIFY_SOCKET.

Every test runs the real binaries named by the environment CTest sets (VEILLED, VEILLECTL,
FEEDSERVER). Network traffic stays on 127.0.0.1."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77

VEILLED = os.environ.get("VEILLED", "veilled")
VEILLECTL = os.environ.get("VEILLECTL", "veillectl")
FEEDSERVER = os.environ.get("FEEDSERVER", "feedserver")
SOURCE_DIR = os.environ.get("VEILLE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED_DIR = os.environ.get("VEILLE_SHARED_DIR", os.path.join(SOURCE_DIR, "..", "shared"))

failures = 0


def check(cond, what):
    """Records one assertion; the test exits non-zero at the end if any failed."""
    global failures
    if cond:
        print(f"ok - {what}")
    else:
        failures += 1
        print(f"FAIL - {what}")
    sys.stdout.flush()
    return cond


def finish():
    print(f"{'FAILED' if failures else 'PASSED'}: {failures} failure(s)")
    sys.exit(1 if failures else 0)


def skip(why):
    print(f"skipped: {why}")
    sys.exit(SKIP)


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def stop_process(proc, grace=5):
    """SIGTERM, then SIGKILL if proc has not exited within grace seconds."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class TempDir:
    def __init__(self, prefix="veille-test-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        if os.environ.get("VEILLE_KEEP_TMP"):
            print(f"kept {self.path}")
        else:
            shutil.rmtree(self.path, ignore_errors=True)


def cmake_cache(build, name):
    """The value of name in the CMake cache of the build folder, or None."""
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split("=", 1)[1].strip()
    return None


class FeedServer:
    """The fixture server (tests/fixture/feedserver.c) serving root on 127.0.0.1."""

    def __init__(self, root, workdir):
        self.root = root
        self.port_file = os.path.join(workdir, "feedserver.port")
        self.log = os.path.join(workdir, "feedserver.log")
        self.proc = subprocess.Popen(
            [FEEDSERVER, "--root", root, "--port", "0", "--port-file", self.port_file,
             "--log", self.log],
            stdout=subprocess.DEVNULL)
        if not wait_for(lambda: os.path.exists(self.port_file) and open(self.port_file).read().strip(), 10):
            self.proc.kill()
            raise RuntimeError("feedserver did not start")
        self.port = int(open(self.port_file).read().strip())
        self.base = f"http://127.0.0.1:{self.port}"

    def requests(self):
        """[METHOD, URI, STATUS, BYTES, USER-AGENT] per request, oldest first."""
        try:
            with open(self.log) as f:
                return [l.rstrip("\n").split(" ", 4) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def stop(self):
        stop_process(self.proc)


NS_SCRIPT = r"""
set -e
T=$1; shift
mkdir -p "$T/olddev"
mount --bind /dev "$T/olddev"
mount -t tmpfs -o mode=755 tmpfs /dev
for n in null zero full random urandom tty; do touch /dev/$n; mount --bind "$T/olddev/$n" /dev/$n; done
for d in pts shm; do mkdir /dev/$d; mount --bind "$T/olddev/$d" /dev/$d; done
ln -s /proc/self/fd /dev/fd; ln -s fd/0 /dev/stdin; ln -s fd/1 /dev/stdout; ln -s fd/2 /dev/stderr
ln -s "$T/log.sock" /dev/log
umount -l "$T/olddev"
exec "$@"
"""


class Syslog:
    """A private rsyslogd listening on workdir/log.sock and writing 'facility.severity tag msg'
    lines to workdir/syslog.out. run() starts a command whose /dev/log is that socket, inside a
    private mount namespace (/dev is shared across namespaces, so it is never touched)."""

    def __init__(self, workdir):
        if os.geteuid() != 0 or not shutil.which("rsyslogd") or not shutil.which("unshare"):
            skip("needs root, rsyslogd and unshare for a private syslog receiver")
        self.dir = workdir
        self.sock = os.path.join(workdir, "log.sock")
        self.out = os.path.join(workdir, "syslog.out")
        conf = os.path.join(workdir, "rsyslog.conf")
        with open(conf, "w") as f:
            f.write('global(workDirectory="%s")\n' % workdir)
            f.write('module(load="imuxsock" SysSock.Use="off")\n')
            f.write('input(type="imuxsock" Socket="%s" CreatePath="on")\n' % self.sock)
            f.write('template(name="t" type="string" '
                    'string="%syslogfacility-text%.%syslogseverity-text% %syslogtag%%msg%\\n")\n')
            f.write('action(type="omfile" file="%s" template="t")\n' % self.out)
        self.ns = os.path.join(workdir, "devlog-ns.sh")
        with open(self.ns, "w") as f:
            f.write(NS_SCRIPT)
        self.proc = subprocess.Popen(["rsyslogd", "-n", "-f", conf, "-i", os.path.join(workdir, "rsyslogd.pid")])
        if not wait_for(lambda: os.path.exists(self.sock), 10):
            raise RuntimeError("rsyslogd did not start")

    def command(self, argv):
        return ["unshare", "--mount", "--propagation", "private", "sh", self.ns, self.dir] + argv

    def lines(self):
        try:
            with open(self.out, errors="replace") as f:
                return [l.rstrip("\n") for l in f]
        except FileNotFoundError:
            return []

    def alerts(self, topic="belarus-border"):
        """The ALERT lines received so far for topic."""
        return [l for l in self.lines() if f"ALERT topic={topic}" in l]

    def stop(self):
        stop_process(self.proc)


class NotifySocket:
    """A fake systemd notification socket (AF_UNIX datagrams with credentials)."""

    def __init__(self, workdir):
        self.path = os.path.join(workdir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)
        self.messages = []  # (pid, text)

    def poll(self, timeout):
        self.sock.settimeout(timeout)
        try:
            msg, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None
        pid = None
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                pid = int.from_bytes(data[0:4], sys.byteorder)
        self.messages.append((pid, msg.decode()))
        return self.messages[-1]

    def wait_for(self, pred, timeout):
        """Waits until a message satisfying pred(text) arrives; returns (pid, text) or None."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = self.poll(max(0.01, end - time.monotonic()))
            if m and pred(m[1]):
                return m
        return None

    def close(self):
        self.sock.close()


def write_config(path, database, feeds, topic=True, extra="", threshold=None):
    """Writes a veille.conf using the project's shipped reference articles and aliases."""
    conf_dir = os.path.join(os.path.abspath(SOURCE_DIR), "conf")
    if threshold is None:
        threshold = shipped_threshold()
    with open(path, "w") as f:
        f.write("[veille]\n")
        f.write(f"database = {database}\n")
        f.write(f"aliases = {conf_dir}/aliases.txt\n")
        f.write("interval = 15m\ntimeout = 20s\nconnect_timeout = 5s\n")
        f.write(extra)
        if topic:
            f.write("\n[topic belarus-border]\n")
            f.write(f"references = {conf_dir}/reference/*.txt\n")
            f.write(f"threshold = {threshold}\n")
        for name, url in feeds:
            f.write(f"\n[feed {name}]\nurl = {url}\n")


def shipped_threshold():
    """The threshold of the shipped configuration's belarus-border topic."""
    section = None
    with open(os.path.join(SOURCE_DIR, "conf", "veille.conf")) as f:
        for line in f:
            line = line.split(";")[0].strip()
            if line.startswith("["):
                section = line
            elif section == "[topic belarus-border]" and line.startswith("threshold"):
                return line.split("=", 1)[1].strip()
    raise RuntimeError("no threshold in conf/veille.conf")


JOURNAL_NS_SCRIPT = r"""
set -e
T=$1; shift
export LIBMOUNT_UTAB="$T/utab"
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/journal /run/systemd/journald.conf.d
printf '[Journal]\nStorage=volatile\nReadKMsg=no\nForwardToSyslog=no\nForwardToKMsg=no\nForwardToConsole=no\nForwardToWall=no\nRateLimitBurst=0\n' \
	> /run/systemd/journald.conf.d/test.conf
SYSTEMD_LOG_TARGET=console /lib/systemd/systemd-journald 2>"$T/journald.err" &
JPID=$!
i=0; while [ ! -S /run/systemd/journal/socket ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
set +e
"$@"; rc=$?
journalctl --sync
kill $JPID; wait $JPID
rm -rf "$T/journal"; cp -r /run/log/journal "$T/journal"
exit $rc
"""


class Journal:
    """A private systemd-journald in a mount namespace of its own (a tmpfs on /run): run() starts a
    command that logs to it, then copies the journal out so entries() can read it back."""

    def __init__(self, workdir):
        if os.geteuid() != 0 or not shutil.which("unshare") or not os.path.exists("/lib/systemd/systemd-journald"):
            skip("needs root, unshare and systemd-journald for a private journal")
        self.dir = workdir
        self.ns = os.path.join(workdir, "journal-ns.sh")
        with open(self.ns, "w") as f:
            f.write(JOURNAL_NS_SCRIPT)

    def run(self, argv, timeout=120):
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", self.ns, self.dir] + argv,
                              capture_output=True, text=True, timeout=timeout)

    def entries(self, *matches):
        import json
        p = subprocess.run(["journalctl", "--directory", os.path.join(self.dir, "journal"), "-o", "json",
                            "--no-pager"] + list(matches), capture_output=True, text=True)
        return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
