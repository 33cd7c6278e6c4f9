"""The watchdog is fed only while the database answers. Another process takes every WAL read-mark
lock of the SQLite file (bytes 123-127 of the -shm file, see https://sqlite.org/walformat.html),
so no read transaction can begin: each of veilled's pings gives up after SQLite's ~10 s of
retries. veilled stops sending WATCHDOG=1, says so once in its log however many pings fail, and
resumes (and says so) as soon as the locks are released."""

import fcntl
import os
import subprocess
import threading
import time

import harness as h
from corpus import OFF_TOPIC
from feedgen import WRITERS, item

HOLD_S = 22  # two pings fail, each after about 10 s of SQLite's retries
READ_MARKS = (123, 5)  # offset and length of the WAL read-mark locks in the -shm file


def main():
    with h.TempDir() as tmp:
        root = os.path.join(tmp, "feeds")
        os.makedirs(root)
        with open(os.path.join(root, "a.xml"), "w") as f:
            f.write(WRITERS["rss2"]("a", [item(OFF_TOPIC[0], "urn:wd:a", "https://wd.example.fr/a", 0)]))
        server = h.FeedServer(root, tmp)
        notify = h.NotifySocket(tmp)
        db = os.path.join(tmp, "veille.db")
        conf = os.path.join(tmp, "veille.conf")
        h.write_config(conf, db, [("a", f"{server.base}/a.xml")], extra="alerts = none\n")
        env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="1000000")
        errpath = os.path.join(tmp, "veilled.err")
        errlog = open(errpath, "w")
        proc = subprocess.Popen(["sh", "-c", 'export WATCHDOG_PID=$$; exec "$@"', "sh", h.VEILLED, "-c", conf],
                                env=env, stderr=errlog)
        lock = None
        try:
            h.check(notify.wait_for(lambda t: "READY=1" in t, 10) is not None, "READY=1")
            fetched = notify.wait_for(lambda t: t.startswith("STATUS=") and " 1 ok" in t, 15)
            h.check(fetched is not None, "the feed was fetched and stored")
            h.check(notify.wait_for(lambda t: "WATCHDOG=1" in t, 3) is not None, "WATCHDOG=1 before the lock")

            # Record every datagram with its arrival time from now on, in a thread.
            seen = []
            stop = threading.Event()

            def listen():
                while not stop.is_set():
                    m = notify.poll(0.2)
                    if m:
                        seen.append((time.monotonic(), m[1]))

            t = threading.Thread(target=listen)
            t.start()
            # Blocks until no read transaction of veilled's is open, then holds every read mark.
            lock = open(db + "-shm", "r+b")
            fcntl.lockf(lock, fcntl.LOCK_EX, READ_MARKS[1], READ_MARKS[0])
            locked_at = time.monotonic()
            time.sleep(HOLD_S)
            lock.close()  # releases the locks
            lock = None
            released_at = time.monotonic()
            time.sleep(3)
            stop.set()
            t.join()

            pings = [at for at, text in seen if "WATCHDOG=1" in text]
            during = [at for at in pings if locked_at + 0.5 < at < released_at]
            h.check(not during, f"no WATCHDOG=1 while the database is locked ({len(during)} sent)")
            after = [at for at in pings if at >= released_at]
            h.check(len(after) >= 2, f"WATCHDOG=1 resumes once the lock is released ({len(after)} in 3 s)")
            h.check(proc.poll() is None, "veilled keeps running")

            h.stop_process(proc)
            h.check(proc.returncode == 0, f"exit status 0 ({proc.returncode})")
            err = open(errpath).read()
            silent = err.count("database does not answer")
            h.check(silent == 1, f"the silence is logged once ({silent} times):\n{err}")
            h.check(err.count("database answers again") == 1, "the recovery is logged once")
        finally:
            if lock is not None:
                lock.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            notify.close()
            server.stop()
    h.finish()


if __name__ == "__main__":
    main()
