#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""bench_cli: what a whole `hiddenq diagnose` run costs, beside sysstat.

Runs, at the same time and over the same 10 s:
    hiddenq diagnose -d 10 --json      (100 ms ticks, no eBPF)
    sar -u -P ALL 1 10                 (sar + the sadc it forks)
    mpstat -P ALL 1 10
and reports, for each, the peak RSS and the CPU time (user + system) over its
run, from the rusage the kernel gives back when the process is reaped
(os.wait4).  This process makes itself a child subreaper, so orphans come
back to it and are reaped here: sadc (sar does not wait for it, it is counted
with sar), and the tools themselves, which are started as orphans of a
/bin/sh ('"$@" &').  That detour matters: ru_maxrss is carried across fork
and exec (the kernel keeps the high-water mark of the image exec replaced),
so anything forked straight from Python would report Python's ~10 MiB.  Via
sh, the carried-over floor is the shell's own small RSS; the "launch floor"
row (`true` started the same way) shows how much that is.

Why concurrently: all three sleep almost all the time (well under 1 % of a
CPU each), so on 2 vCPUs they hardly ever compete; running them one after the
other would triple the wall time for no better figure.

Targets (informational; the exit status is 0 whatever the figures):
    hiddenq peak RSS under 4 MiB, CPU under 1 % of one CPU.

Usage: bench_cli.py PATH/TO/hiddenq [SECONDS]
"""

import ctypes
import json
import os
import signal
import sys
import tempfile
import time

PR_SET_CHILD_SUBREAPER = 36
RSS_TARGET_MIB = 4.0
CPU_TARGET_PCT = 1.0


def set_subreaper():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def which(name):
    for d in os.environ.get("PATH", "/usr/bin:/bin").split(":"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def spawn(argv, out_path):
    """Start argv as an orphan of /bin/sh, stdout to out_path, stderr to .err."""
    fa = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        (os.POSIX_SPAWN_OPEN, 2, out_path + ".err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    env = dict(os.environ, LC_ALL="C")
    sh = ["/bin/sh", "-c", '"$@" &', "sh"] + argv
    return os.posix_spawn(sh[0], sh, env, file_actions=fa)


def kill_children():
    """SIGKILL, by PID, every process whose parent is this one (ours, orphaned to us)."""
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            ppid = int(st[st.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == me:
            try:
                os.kill(int(d), signal.SIGKILL)
            except ProcessLookupError:
                pass


def comm_of(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 0
    hiddenq = os.path.abspath(sys.argv[1])
    secs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    sub = set_subreaper()
    tmp = tempfile.mkdtemp(prefix="hq-bench-")

    runs = {}  # name -> what it ran and what it cost
    cmds = [("hiddenq", [hiddenq, "diagnose", "-d", str(secs), "--json"])]
    sar, mpstat, true = which("sar"), which("mpstat"), which("true")
    if sar:
        cmds.append(("sar", [sar, "-u", "-P", "ALL", "1", str(secs)]))
    if mpstat:
        cmds.append(("mpstat", [mpstat, "-P", "ALL", "1", str(secs)]))
    if true:
        cmds.append(("true", [true]))
    t0 = time.monotonic()
    for name, argv in cmds:
        out = os.path.join(tmp, name + ".out")
        spawn(argv, out)
        runs[name] = dict(argv=argv, out=out, cpu=0.0, rss=[], status=None, wall=None, extra=[])
    # reaped processes are told apart by their comm (the program name)
    by_comm = {os.path.basename(r["argv"][0])[:15]: n for n, r in runs.items()}

    # Reap everything, the shells and the orphaned tools, bounded in time.
    deadline = t0 + secs + 20
    killed = False
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            break
        if info is None:
            if time.monotonic() > deadline and not killed:
                kill_children()
                killed = True
            time.sleep(0.02)
            continue
        pid = info.si_pid
        comm = comm_of(pid)  # still a zombie: comm is readable
        _, status, ru = os.wait4(pid, 0)
        cpu = ru.ru_utime + ru.ru_stime
        rss_mib = ru.ru_maxrss / 1024.0
        if comm == "sh":
            continue
        name = by_comm.get(comm)
        if name is None and comm == "sadc" and "sar" in runs:
            runs["sar"]["extra"].append(comm)
            name = "sar"
        elif name is not None:
            runs[name]["status"] = os.waitstatus_to_exitcode(status)
            runs[name]["wall"] = time.monotonic() - t0
        else:
            print(f"bench_cli: reaped unexpected process {pid} ({comm})", file=sys.stderr)
            continue
        runs[name]["cpu"] += cpu
        runs[name]["rss"].append(rss_mib)

    # hiddenq must have produced its JSON report, or the figures mean nothing.
    hq = runs["hiddenq"]
    note = ""
    try:
        with open(hq["out"]) as f:
            rep = json.load(f)
        note = f"exit {hq['status']}, JSON ok ({len(rep.get('findings', []))} findings)"
    except (OSError, ValueError) as e:
        note = f"exit {hq['status']}, JSON NOT ok: {e}"
    if hq["status"] not in (0, 1, 2):
        note += " (could not diagnose)"

    print(f"bench_cli: {secs} s, run concurrently; CPU = user + system over the run; "
          f"subreaper {'on' if sub else 'off (sadc not counted)'}")
    print(f"  {'what':<34} {'peak RSS MiB':>12} {'CPU ms':>8} {'% of 1 CPU':>10} {'wall s':>7}  note")
    for name, r in runs.items():
        if r["wall"] is None:
            print(f"  {name:<34} did not finish")
            continue
        wall = r["wall"]
        pct = 100.0 * r["cpu"] / wall if wall > 0 else 0.0
        pct_s = "-" if name == "true" else f"{pct:.3f}"
        label = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(r["argv"]))
        if name == "true":
            label = "launch floor (true via sh)"
        rss = r["rss"]
        if r["extra"]:
            rss_s = "+".join(f"{x:.1f}" for x in rss)
            nt = "sar + " + ", ".join(r["extra"]) + " (RSS of each, both live the whole run)"
        else:
            rss_s = f"{rss[0]:.1f}"
            nt = note if name == "hiddenq" else f"exit {r['status']}"
            if name == "true":
                nt = "RSS carried into every row by the launch; CPU/wall not meaningful"
        print(f"  {label:<34} {rss_s:>12} {r['cpu'] * 1e3:8.1f} {pct_s:>10} {wall:7.2f}  {nt}")
    hq_rss = hq["rss"][0] if hq["rss"] else float("nan")
    hq_pct = 100.0 * hq["cpu"] / hq["wall"] if hq["wall"] else float("nan")
    ok_rss = hq_rss < RSS_TARGET_MIB
    ok_cpu = hq_pct < CPU_TARGET_PCT
    print(f"target: hiddenq peak RSS under {RSS_TARGET_MIB:g} MiB: {hq_rss:.2f} MiB {'PASS' if ok_rss else 'MISS'}")
    print(f"target: hiddenq CPU under {CPU_TARGET_PCT:g} % of one CPU: {hq_pct:.3f} % {'PASS' if ok_cpu else 'MISS'}")
    for name, r in runs.items():
        for suffix in ("", ".err"):
            try:
                os.unlink(r["out"] + suffix)
            except OSError:
                pass
    try:
        os.rmdir(tmp)
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
