#!/usr/bin/python3
"""The idle-vCPU wake-up, side by side (make bench-wakeup, part of make bench).

  ioping       QD=1 direct reads of a file, back to back (-i 0) and spaced
               100 ms apart (-i 100ms): the figure issue 15 started from
  probe io     hiddenq probe io --target on the same file, back to back and
               spaced 100 ms (the probe's own idle-gap phase)
  probe wakeup hiddenq probe wakeup: one thread waking another after 0 and
               100 ms of idle, and the same-CPU floor

Each pair of figures is measured in the same run; the ratio spaced / back to
back is the cost of waking an idle vCPU as each tool sees it.  Nothing is
judged: the figures move with the host's load, which this machine shares.
About 40 s.  Usage: bench_wakeup.py HIDDENQ
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HQ = sys.argv[1] if len(sys.argv) > 1 else "build/hiddenq"


def sh(args, timeout=120):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def ioping(path, interval, count):
    """ioping -B: count, time, iops, speed, min, avg, max, mdev (ns) of the requests after the first."""
    r = sh(["ioping", "-B", "-q", "-c", str(count), "-i", interval, "-s", "4k", path], timeout=count + 60)
    if r.returncode != 0:
        return None
    f = r.stdout.split()
    return {"min_us": int(f[4]) / 1e3, "avg_us": int(f[5]) / 1e3}


def main():
    print(f"load average before: {open('/proc/loadavg').read().split()[:3]}")
    rows = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR", "build")) as d:
        f = os.path.join(d, "wake.dat")
        with open(f, "wb") as o:
            for _ in range(64):
                o.write(os.urandom(1 << 20))
            o.flush()
            os.fsync(o.fileno())
        if shutil.which("ioping"):
            a, b = ioping(f, "0", 2000), ioping(f, "100ms", 40)
            if a and b:
                rows.append(("ioping avg (4 KiB direct reads)", a["avg_us"], b["avg_us"]))
                rows.append(("ioping min", a["min_us"], b["min_us"]))
        else:
            print("ioping: not installed (apt-get install ioping): its rows are skipped")
        r = sh([HQ, "probe", "io", "--target", f, "--duration", "4s", "--gap", "100ms", "--json"], timeout=120)
        try:
            io = json.loads(r.stdout)["result"]
            rows.append(("hiddenq probe io p50", io["back_to_back"]["p50_us"], io["spaced"]["p50_us"]))
        except (ValueError, KeyError):
            print(f"probe io: {r.stderr.strip()[-200:]}")
    r = sh([HQ, "probe", "wakeup", "--gaps", "0,100ms", "--json"], timeout=120)
    try:
        w = json.loads(r.stdout)["result"]
        g = {x["gap_us"]: x["thread"] for x in w["gaps"]}
        rows.append(("hiddenq probe wakeup p50 (thread)", g[0]["p50_us"], g[100000]["p50_us"]))
        rows.append(("hiddenq probe wakeup p90 (thread)", g[0]["p90_us"], g[100000]["p90_us"]))
        floor = w.get("same_cpu_floor") or {}
        print(f"probe wakeup: same-CPU floor p50 {floor.get('p50_us', float('nan')):.1f} us; "
              f"guest polling: {w['settings']['guest_polling']}; host polling: {w['settings']['host_polling']}")
    except (ValueError, KeyError):
        print(f"probe wakeup: {r.stderr.strip()[-200:]}")
    print(f"\n  {'figure (us)':<40} {'back to back':>14} {'spaced 100 ms':>14} {'ratio':>7}")
    for what, a, b in rows:
        print(f"  {what:<40} {a:14.1f} {b:14.1f} {b / a if a else float('nan'):6.2f}x")
    print(f"\nload average after: {open('/proc/loadavg').read().split()[:3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
