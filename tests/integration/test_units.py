"""The systemd units: `systemd-analyze verify` prints nothing and `systemd-analyze security`
rates veilled.service's exposure at 2.0 or less (offline: no systemd needs to run)."""

import os
import re
import shutil
import subprocess

import harness as h

MAX_EXPOSURE = 2.0


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
    h.finish()


if __name__ == "__main__":
    main()
