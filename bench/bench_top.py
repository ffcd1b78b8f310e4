#!/usr/bin/env python3
"""What the live view costs beside the engine it shows: hiddenq top against hiddenq watch.

Runs, at the same time for SECONDS (default 60), with the same defaults (1 s samples,
every finding judged over its window, the eBPF stall watch, walks every 5 s):
  - hiddenq watch, stdout to /dev/null (the engine, evaluated every sample, and its lines),
  - hiddenq top in a tmux pane of 80x24 (a terminal of its own, on a socket of this bench):
    a frame per sample and a redraw of the screen on each,
  - hiddenq top -b to /dev/null (a frame and a plain block per sample).
For each: CPU (user + system, all threads, /proc/PID/stat) over the whole run and over the
steady part (from 5 s on, after eBPF programs are loaded), as % of one CPU and per sample,
peak RSS (VmHWM), and top's ratio to watch.  The tmux server's own CPU (the terminal
emulator drawing what top sends) is shown apart.
Issue 17's target: live, top costs what the engine costs.

Usage: bench_top.py HIDDENQ [SECONDS]
Prints a table; always exits 0 (benchmarks report, they do not fail CI).  Everything it starts
is stopped by PID: watch and top -b with SIGINT, top with its q key, the tmux server with SIGKILL.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CLK = os.sysconf("SC_CLK_TCK")
STEADY_FROM = 5.0


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / CLK


def hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 0
    hq = os.path.abspath(sys.argv[1])
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    tmux = shutil.which("tmux")
    if not tmux:
        print("bench_top: tmux is not installed (make setup-test); no figures")
        return 0
    tmp = tempfile.mkdtemp(prefix="bench_top.")
    sock = os.path.join(tmp, "tmux.sock")
    conf = os.path.join(tmp, "tmux.conf")
    with open(conf, "w") as f:
        f.write("set -g status off\nset -g default-terminal screen\n")
    devnull = open(os.devnull, "w")
    procs, server_pid = {}, None
    try:
        procs["hiddenq watch"] = subprocess.Popen([hq, "watch", "-q"], stdout=devnull, stderr=devnull,
                                                  start_new_session=True).pid
        procs["hiddenq top -b > /dev/null"] = subprocess.Popen([hq, "top", "-b", "-q"], stdout=devnull,
                                                               stderr=devnull, start_new_session=True).pid
        subprocess.run([tmux, "-S", sock, "-f", conf, "new-session", "-d", "-x", "80", "-y", "24",
                        f"exec {hq} top"], check=True, timeout=10)
        server_pid = int(subprocess.run([tmux, "-S", sock, "display", "-p", "#{pid}"], capture_output=True,
                                        text=True, timeout=10).stdout)
        procs["hiddenq top (tmux 80x24)"] = int(subprocess.run(
            [tmux, "-S", sock, "display", "-p", "#{pane_pid}"], capture_output=True, text=True,
            timeout=10).stdout)
        t0 = time.monotonic()
        time.sleep(STEADY_FROM)
        at5 = {k: cpu_s(p) for k, p in procs.items()}
        srv5 = cpu_s(server_pid)
        time.sleep(max(0.0, secs - STEADY_FROM))
        wall = time.monotonic() - t0
        end = {k: cpu_s(p) for k, p in procs.items()}
        srv_end = cpu_s(server_pid)
        hwm = {k: hwm_kb(p) for k, p in procs.items()}
    finally:
        for name, pid in procs.items():
            try:
                if "tmux" in name:
                    subprocess.run([tmux, "-S", sock, "send-keys", "q"], timeout=10)
                else:
                    os.kill(pid, signal.SIGINT)
            except (OSError, subprocess.SubprocessError):
                pass
        deadline = time.monotonic() + 10
        for name, pid in procs.items():
            if "tmux" in name:
                continue
            while time.monotonic() < deadline:
                try:
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        break
                except ChildProcessError:
                    break
                time.sleep(0.05)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (OSError, ChildProcessError):
                    pass
        time.sleep(1)
        for pid in ([procs.get("hiddenq top (tmux 80x24)")] + [server_pid]):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        shutil.rmtree(tmp, ignore_errors=True)

    steady = wall - STEADY_FROM
    print(f"bench_top: {wall:.0f} s, all at once, 1 s samples (steady: from {STEADY_FROM:.0f} s on), "
          f"{os.cpu_count()} CPUs")
    print(f"{'':28} {'CPU s':>7} {'% of a CPU':>11} {'steady %':>9} {'ms/sample':>10} {'peak RSS':>9}")
    base = None
    for name in ("hiddenq watch", "hiddenq top (tmux 80x24)", "hiddenq top -b > /dev/null"):
        total = end[name]
        st = end[name] - at5[name]
        pct, spct = 100 * total / wall, 100 * st / steady
        if base is None:
            base = spct
        print(f"{name:28} {total:7.2f} {pct:10.2f} % {spct:8.2f} % {1000 * st / steady:9.2f} "
              f"{hwm[name] / 1024:6.1f} MiB")
    print(f"{'tmux server (the terminal)':28} {srv_end:7.2f} {100 * srv_end / wall:10.2f} % "
          f"{100 * (srv_end - srv5) / steady:8.2f} %")
    tui = 100 * (end["hiddenq top (tmux 80x24)"] - at5["hiddenq top (tmux 80x24)"]) / steady
    if base > 0:
        print(f"top on a terminal / watch, steady: {tui / base:.2f}x "
              f"(+{tui - base:.2f} % of a CPU for the frames and the redraws)")
    print("CPU from /proc/PID/stat in clock ticks (1/%d s): figures below ~0.1 s are coarse" % CLK)
    return 0


if __name__ == "__main__":
    sys.exit(main())
