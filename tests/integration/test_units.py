"""The systemd units: `systemd-analyze verify` prints nothing for any of them,
`systemd-analyze security` rates both services' exposure at 2.0 or less (offline: no systemd
needs to run), and the export timer, with its randomized delay, never fires between 02:00 and
03:00 local time (a year of `systemd-analyze calendar` iterations, in time zones with and without
daylight-saving changes)."""

import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta

import harness as h

MAX_EXPOSURE = 2.0


def seconds(v):
    """A systemd time span such as 30m, 1h, 90s or 1h 30min, in seconds."""
    total = 0
    for n, unit in re.findall(r"([0-9]+)\s*([a-z]*)", v):
        total += int(n) * {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}[unit]
    return total


def timer_setting(text, key):
    m = re.search(rf"^{key}=(.*)$", text, flags=re.M)
    return m.group(1).strip() if m else None


def check_export_units(tmp, build):
    svc = open(os.path.join(build, "systemd", "veille-export.service")).read()
    timer = open(os.path.join(build, "systemd", "veille-export.timer")).read()
    svc = re.sub(r"^ExecStart=\S+", f"ExecStart={h.VEILLECTL}", svc, flags=re.M)
    for name, text in (("veille-export.service", svc), ("veille-export.timer", timer)):
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
    units = [os.path.join(tmp, "veille-export.service"), os.path.join(tmp, "veille-export.timer")]
    p = subprocess.run(["systemd-analyze", "verify", "--man=no"] + units, capture_output=True, text=True,
                       timeout=60)
    out = (p.stdout + p.stderr).strip()
    h.check(p.returncode == 0 and out == "", f"systemd-analyze verify of the export units is silent: {out!r}")
    p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", units[0]],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for veille-export.service: ([0-9.]+)", p.stdout)
    h.check(m is not None and float(m.group(1)) <= MAX_EXPOSURE,
            f"veille-export.service exposure {m.group(1) if m else '?'} <= {MAX_EXPOSURE}")
    daemon = open(os.path.join(build, "systemd", "veilled.service")).read()
    for key in ("DynamicUser=yes", "StateDirectory=veille", "User="):
        h.check(timer_setting(svc, key.split("=")[0]) == timer_setting(daemon, key.split("=")[0]),
                f"the export service shares {key.split('=')[0]}= with veilled.service")
    h.check("Type=oneshot" in svc and re.search(r"^ExecStart=.* export --nightly$", svc, flags=re.M),
            "the export service runs veillectl export --nightly once")

    cal = timer_setting(timer, "OnCalendar")
    delay = seconds(timer_setting(timer, "RandomizedDelaySec") or "0")
    h.check(timer_setting(timer, "Persistent") == "true", "the timer is Persistent")
    h.check(delay > 0, f"the timer has a randomized delay ({delay}s)")
    for tz in ("Europe/Paris", "America/New_York", "UTC"):
        p = subprocess.run(["systemd-analyze", "calendar", "--iterations=400", cal], capture_output=True,
                           text=True, timeout=60, env=dict(os.environ, TZ=tz))
        # "Next elapse: Sun 2026-11-22 04:15:00 CET" and "Iter. #2: Mon 2026-11-23 04:15:00 CET"
        times = [datetime.strptime(m, "%Y-%m-%d %H:%M:%S") for m in
                 re.findall(r"(?:Next elapse|Iter\. #[0-9]+): \w+ ([0-9-]+ [0-9:]+)", p.stdout)]
        h.check(p.returncode == 0 and len(times) == 400, f"{tz}: 400 elapses computed ({len(times)})")
        bad = []
        for t in times:
            start, end = t, t + timedelta(seconds=delay)
            night = start.replace(hour=2, minute=0, second=0)
            for n in (night - timedelta(days=1), night, night + timedelta(days=1)):
                if start < n + timedelta(hours=1) and end > n:
                    bad.append(t)
        h.check(not bad, f"{tz}: no run from OnCalendar={cal} + {delay}s falls in 02:00-03:00 ({bad[:3]})")


def main():
    if not shutil.which("systemd-analyze"):
        h.skip("systemd-analyze is not installed")
    build = os.environ.get("VEILLE_BUILD_DIR", "")
    unit_src = os.path.join(build, "systemd", "veilled.service")
    if not os.path.exists(unit_src):
        h.skip(f"{unit_src} not generated (configure the build first)")
    with h.TempDir() as tmp:
        # The configured unit, with ExecStart pointing at the binary just built (verify wants
        # an existing executable).
        text = open(unit_src).read()
        text = re.sub(r"^ExecStart=\S+", f"ExecStart={h.VEILLED}", text, flags=re.M)
        unit = os.path.join(tmp, "veilled.service")
        with open(unit, "w") as f:
            f.write(text)
        p = subprocess.run(["systemd-analyze", "verify", "--man=no", unit], capture_output=True, text=True,
                           timeout=60)
        out = (p.stdout + p.stderr).strip()
        h.check(p.returncode == 0 and out == "", f"systemd-analyze verify veilled.service is silent: {out!r}")
        p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", unit],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for veilled.service: ([0-9.]+)", p.stdout)
        h.check(m is not None, "security prints an overall exposure level")
        if m:
            h.check(float(m.group(1)) <= MAX_EXPOSURE, f"exposure {m.group(1)} <= {MAX_EXPOSURE}")
        for key in ("Type=notify", "NotifyAccess=main", "WatchdogSec=", "ExecReload=", "DynamicUser=yes",
                    "StateDirectory=veille", "Restart=on-failure"):
            h.check(key in text, f"unit has {key}")

        check_export_units(tmp, build)
    h.finish()


if __name__ == "__main__":
    main()
