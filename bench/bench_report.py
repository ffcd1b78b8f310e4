#!/usr/bin/env python3
"""bench_report: what `hiddenq report` costs on an hour-long and a day-long recording.

    bench/bench_report.py build/hiddenq build/bench/mkrec [HOURS ...]   (default: 1 24)

Records 30 s of this machine (every source on, 500 ms apart), then makes a
recording of each length from it with mkrec (those samples over and over, one
a second: the engine reads real files of this machine, and each pass looks
like a counter reset to it).  For each it prints the wall and CPU seconds and
the peak RSS of `hiddenq report REC -o FILE`, the page's size, and beside it
`watch --replay` over the same file (the continuous engine alone, evaluating
after every sample): the report's own share is the difference.  The
report's memory must not grow with the input (its plots keep at most 1200
points); its time grows with the samples, as the engine's does.
Always exits 0: benchmarks report, they do not fail CI.
"""
import os
import resource
import subprocess
import sys
import tempfile
import time


def measure(cmd, stdout=subprocess.DEVNULL):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    rc = os.waitstatus_to_exitcode(status)
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, rc, err


def main():
    hq, mkrec = sys.argv[1], sys.argv[2]
    hours = [float(h) for h in sys.argv[3:]] or [1, 24]
    with tempfile.TemporaryDirectory(prefix="bench-report-") as d:
        src = os.path.join(d, "src.db")
        r = subprocess.run([hq, "record", "-o", src, "-i", "500ms", "-n", "60", "-q"], capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            print(f"bench_report: could not record this machine: {r.stderr.strip()}")
            return 0
        print(f"{'input':>10} {'samples':>8} {'file MB':>8} | {'report s':>8} {'CPU s':>6} {'RSS MiB':>7} "
              f"{'page KiB':>8} | {'watch s':>7} {'RSS MiB':>7}")
        for h in hours:
            rec = os.path.join(d, f"rec{h:g}h.db")
            n = int(h * 3600)
            m = subprocess.run([mkrec, src, rec, str(n)], capture_output=True, text=True)
            if m.returncode != 0:
                print(f"bench_report: mkrec failed: {m.stderr.strip()}")
                return 0
            size = sum(os.path.getsize(rec + x) for x in ("", "-wal") if os.path.exists(rec + x)) / 1e6
            out = os.path.join(d, "r.html")
            wall, cpu, rss, rc, err = measure([hq, "report", rec, "-o", out, "-q"])
            if rc != 0:
                print(f"bench_report: report failed ({rc}): {err.strip()}")
                return 0
            page = os.path.getsize(out) / 1024
            wwall, wcpu, wrss, wrc, _ = measure([hq, "watch", "--replay", rec, "--json", "-q"])
            label = f"{h:g} h"
            print(f"{label:>10} {n:>8} {size:>8.1f} | {wall:>8.1f} {cpu:>6.1f} {rss:>7.1f} {page:>8.0f} | "
                  f"{wwall:>7.1f} {wrss:>7.1f}")
            os.unlink(rec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
