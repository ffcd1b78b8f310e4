#!/usr/bin/env python3
"""What hiddenq costs left running, beside sadc doing the least a recorder can.

Runs, at the same time for MINUTES (default 10):
  - hiddenq watch (default settings: 1 s samples, every finding judged over its window,
    the eBPF stall watch, per-task and cgroup walks every 5 s),
  - hiddenq serve on a loopback port, scraped by this script every 15 s like Prometheus,
  - sadc sampling every second (the floor of a sampler that keeps running).
For each: CPU as % of one CPU over each minute (from /proc/PID/stat) and RSS (VmRSS) at 1 minute
and at the end; for hiddenq, the engine's own state from serve's hiddenq_engine_state_bytes.
Targets (issue 12): at most 0.5 % of one CPU with default settings, RSS flat (bounded state).

Usage: bench_daemon.py HIDDENQ [MINUTES]
Prints a table; always exits 0 (benchmarks report, they do not fail CI).
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

CLK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / CLK


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def scrape(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return r.read().decode()
    except OSError:
        return ""


def main():
    hq = sys.argv[1] if len(sys.argv) > 1 else "build/hiddenq"
    minutes = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="hq-bench-daemon-")
    procs = {
        "hiddenq watch": subprocess.Popen([hq, "watch", "-q"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True),
        "hiddenq serve": subprocess.Popen([hq, "serve", "-q", "--listen", f"127.0.0.1:{port}"],
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True),
    }
    sadc = next((p for p in ("/usr/lib/sysstat/sadc", "/usr/lib64/sa/sadc") if os.path.exists(p)), None)
    if sadc:
        procs["sadc 1 s"] = subprocess.Popen([sadc, "1", str(int(minutes * 60) + 30), os.path.join(tmp, "sa")],
                                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(5)  # start-up (eBPF loading, first reads) is not what a daemon costs
        t0 = time.monotonic()
        base = {k: cpu_s(p.pid) for k, p in procs.items()}
        per_min = {k: [] for k in procs}
        last = dict(base)
        rss1 = {}
        state = []
        next_scrape = t0
        minute = 1
        while time.monotonic() - t0 < minutes * 60:
            now = time.monotonic()
            if now >= next_scrape:
                body = scrape(port)
                m = re.search(r"^hiddenq_engine_state_bytes (\d+)", body, re.M)
                if m:
                    state.append((now - t0, int(m.group(1))))
                next_scrape += 15
            if now - t0 >= minute * 60:
                for k, p in procs.items():
                    c = cpu_s(p.pid)
                    per_min[k].append((c - last[k]) / 60 * 100)
                    last[k] = c
                    if minute == 1:
                        rss1[k] = rss_kb(p.pid)
                minute += 1
            time.sleep(min(1.0, max(0.05, min(next_scrape, t0 + minute * 60) - time.monotonic())))
        end = {k: cpu_s(p.pid) for k, p in procs.items()}
        rss_end = {k: rss_kb(p.pid) for k, p in procs.items()}
        secs = time.monotonic() - t0
        print(f"bench_daemon: {secs / 60:.1f} min, 1 s samples, serve scraped every 15 s "
              f"(load {os.getloadavg()[0]:.2f})")
        print(f"  {'process':14} {'CPU % of one':>12} {'worst minute':>12} {'RSS 1 min':>10} {'RSS end':>9}")
        for k in procs:
            avg = (end[k] - base[k]) / secs * 100
            worst = max(per_min[k]) if per_min[k] else avg
            print(f"  {k:14} {avg:11.3f}% {worst:11.3f}% {rss1.get(k, 0):8d}kB {rss_end[k]:7d}kB")
        if state:
            print(f"  engine state (serve): {state[0][1]} B at {state[0][0]:.0f} s, {state[-1][1]} B at "
                  f"{state[-1][0]:.0f} s, most {max(s for _, s in state)} B")
        print("  target: hiddenq at most 0.5 % of one CPU with default settings; RSS and engine state flat")
    finally:
        for p in procs.values():
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        subprocess.run(["rm", "-rf", tmp], check=False)


if __name__ == "__main__":
    main()
