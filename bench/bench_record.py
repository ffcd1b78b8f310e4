#!/usr/bin/env python3
"""Recording cost side by side: hiddenq record against atop -w and sadc over the same minute.

All three sample every second for SECONDS (default 60) at the same time, each into its own file
in a temporary directory; the bench reports bytes on disk per sample and CPU per sample (the
process's user+system time from /proc/PID/stat, read just before it is stopped by PID).  hiddenq
keeps every raw file a capture bundle holds (/proc/stat, PSI, vmstat, meminfo, diskstats, net,
per-task schedstat, cgroups, ...); atop and sadc keep far fewer values, in their own binary forms.

Usage: bench_record.py HIDDENQ [SECONDS]
Prints a table; always exits 0 (benchmarks report, they do not fail CI).
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CLK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / CLK


def main():
    hq = sys.argv[1] if len(sys.argv) > 1 else "build/hiddenq"
    secs = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    tmp = tempfile.mkdtemp(prefix="hq-bench-record-")
    procs = {}
    try:
        rec = os.path.join(tmp, "hiddenq.db")
        procs["hiddenq record"] = (subprocess.Popen(
            [hq, "record", "-o", rec, "-i", "1s", "-q", "--no-stalls"], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True), rec)
        if shutil.which("atop"):
            a = os.path.join(tmp, "atop.raw")
            procs["atop -w"] = (subprocess.Popen(["atop", "-w", a, "1"], stdin=subprocess.DEVNULL,
                                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                 start_new_session=True), a)
        sadc = next((p for p in ("/usr/lib/sysstat/sadc", "/usr/lib64/sa/sadc") if os.path.exists(p)), None)
        if sadc:
            s = os.path.join(tmp, "sa.data")
            procs["sadc"] = (subprocess.Popen([sadc, "1", str(secs + 5), s], stdin=subprocess.DEVNULL,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                              start_new_session=True), s)
        time.sleep(2)  # past start-up (eBPF loading, first reads): the steady state is what a recorder costs
        base = {k: cpu_s(p.pid) for k, (p, _) in procs.items()}
        size0 = {k: os.path.getsize(f) if os.path.exists(f) else 0 for k, (_, f) in procs.items()}
        time.sleep(secs)
        end = {k: cpu_s(p.pid) for k, (p, _) in procs.items()}
        for k, (p, _) in procs.items():
            os.kill(p.pid, signal.SIGTERM if k == "hiddenq record" else signal.SIGKILL)
        for k, (p, _) in procs.items():
            p.wait(timeout=30)
        print(f"bench_record: {secs} s at 1 sample/s, all three at once (load {os.getloadavg()[0]:.2f})")
        print(f"  {'recorder':16} {'bytes/sample':>13} {'CPU ms/sample':>14}  file")
        for k, (p, f) in procs.items():
            grown = (os.path.getsize(f) if os.path.exists(f) else 0) - size0[k]
            if k == "hiddenq record":  # the WAL is folded back in at close: the file is the bill
                grown = os.path.getsize(f) - size0[k] if size0[k] else os.path.getsize(f) * secs / (secs + 2)
            print(f"  {k:16} {grown / secs:13.0f} {(end[k] - base[k]) * 1000 / secs:14.2f}  {os.path.basename(f)}")
        print("  target: fewer bytes per sample than atop while keeping every raw file a bundle holds")
    finally:
        for p, _ in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
