"""hiddenq watch: the continuous engine, one line per severity change.

- On a synthetic bundle (replayed as if live): steal that rises on one vCPU
  and falls again flips vcpu-oversubscription ok -> crit -> ok, at the times
  the sliding window allows, and nothing else flips.
- Live: a busy loop in a cgroup with a 10 % CPU quota (made by the test,
  bounded, killed by PID) flips cgroup-cpu-throttling to warn/crit and back,
  whatever else loads the machine; SIGHUP re-reads a thresholds file (a bad
  file is refused whole); SIGTERM stops it cleanly with a stop event.
- Bad arguments and a bad thresholds file are refused with exit 3.
"""
import json
import os
import re
import resource
import select
import signal
import subprocess
import sys
import time

import pytest

from conftest import HOG_SRC, const, kill_tree, run, steal_bundle, T0_NS
from serve_util import FINDING_IDS


def lines_json(out):
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def burst(start_s, end_s, pct):
    return lambda k: pct if start_s <= k < end_s else 0.0


def test_replay_steal_rises_and_falls(hq, tmp_path):
    # 1 s samples: vCPU 1 stolen 30 % from 80 s to 120 s, nothing else
    b = steal_bundle(tmp_path / "b", [const(0), burst(80, 120, 30)], seconds=200, interval_ms=1000,
                     ticks_per_interval=100)
    r = run([hq, "watch", "--replay", str(b.root), "--json", "--window", "20s"], timeout=60)
    assert r.returncode == 0, r.stderr
    ev = lines_json(r.stdout)
    starts = [e for e in ev if e["event"] == "start"]
    # every finding's first verdict, once each
    assert sorted(e["id"] for e in starts) == sorted(FINDING_IDS), starts
    assert ev[-1]["event"] == "stop" and ev[-1]["reason"] == "end of replay", ev[-1]
    changes = [e for e in ev if e["event"] == "change"]
    assert changes and all(e.get("id") == "vcpu-oversubscription" for e in changes), changes
    steal = [e for e in ev if e.get("id") == "vcpu-oversubscription" and e["event"] in ("start", "change")]
    assert steal[0]["to"] == "ok"
    # every change starts where the previous one ended
    for a, c in zip(steal, steal[1:]):
        assert c["from"] == a["to"], (a, c)
    t = [(e["mono_ns"] - T0_NS) / 1e9 for e in steal]
    crit = [i for i, e in enumerate(steal) if e["to"] == "crit"]
    assert crit, steal
    # three 1 s windows at >= 20 % make it crit: the 3rd or 4th second of the burst
    assert 82 <= t[crit[0]] <= 85, t
    assert steal[-1]["to"] == "ok", steal
    # back to ok once the window (20 s, plus at most one 3 s step) holds fewer than 3 burst windows
    assert 120 <= t[-1] <= 120 + 20 + 4, t
    # the evidence is the judged vCPU's, with labels
    ev_crit = steal[crit[0]]["evidence"]
    assert any(x["metric"] == "steal_pct_worst_1s" and x.get("labels") == {"cpu": "1"} and x["value"] >= 29
               for x in ev_crit), ev_crit
    assert 20 <= steal[crit[0]]["window_s"] <= 24


def test_replay_text_lines(hq, tmp_path):
    b = steal_bundle(tmp_path / "b", [burst(10, 30, 60), const(0)], seconds=60, interval_ms=1000,
                     ticks_per_interval=100)
    r = run([hq, "watch", "--replay", str(b.root), "--window", "10s", "--color", "never"], timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    pat = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  (ok  |WARN|CRIT|\?   )  (\S+) +(start|\S+ → \S+) +"
                     r"(.*)  \(over \d+ s\)$")
    for line in lines:
        assert pat.match(line), line
    flips = [line for line in lines if "vcpu-oversubscription" in line and "→" in line]
    assert any("ok → crit" in f or "ok → warn" in f for f in flips), lines
    assert "stopped after" in r.stderr


def read_until(p, buf, cond, timeout, what):
    """Read p.stdout lines into buf until cond(buf) or the deadline (select, not sleep)."""
    deadline = time.monotonic() + timeout
    fd = p.stdout.fileno()
    while time.monotonic() < deadline:
        if cond(buf):
            return
        r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        line = p.stdout.readline()
        if not line:
            break
        buf.append(json.loads(line))
    if not cond(buf):
        raise AssertionError(f"timed out after {timeout} s waiting for {what}: {buf[-5:]}")


def sev_of(buf, fid):
    s = [e["to"] for e in buf if e.get("id") == fid]
    return s[-1] if s else None


class QuotaCgroup:
    """A cgroup this test creates with a CPU quota of 10 % of a CPU (cgroup v2 cpu.max where the cpu
    controller is on the unified hierarchy, else the v1 cpu controller's cfs_quota_us), and one busy
    loop in it for `secs` (RLIMIT_CPU bounds it too); removed on exit, the loop killed by PID."""

    def __init__(self, secs):
        self.secs, self.path, self.proc, self.v2 = secs, None, None, False

    @staticmethod
    def where():
        mounts = {}
        with open("/proc/self/mounts") as f:
            for line in f:
                dev, mnt, fstype, opts = line.split()[:4]
                mounts[mnt] = (fstype, opts)
        for m in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
            if mounts.get(m, ("",))[0] == "cgroup2" and "cpu" in open(f"{m}/cgroup.controllers").read().split():
                return m, True
        for m, (fstype, opts) in mounts.items():
            if fstype == "cgroup" and "cpu" in opts.split(",") and os.path.exists(f"{m}/cpu.cfs_quota_us"):
                return m, False
        return None, False

    def __enter__(self):
        root, self.v2 = self.where()
        if root is None:
            pytest.skip("no cgroup with the cpu controller (v2 cpu.max or v1 cpu.cfs_quota_us) to throttle")
        self.path = os.path.join(root, f"hqtest-quota-{os.getpid()}")
        os.mkdir(self.path)
        if self.v2:
            with open(os.path.join(self.path, "cpu.max"), "w") as f:
                f.write("10000 100000\n")
        else:
            with open(os.path.join(self.path, "cpu.cfs_period_us"), "w") as f:
                f.write("100000\n")
            with open(os.path.join(self.path, "cpu.cfs_quota_us"), "w") as f:
                f.write("10000\n")
        lim = int(self.secs) + 2

        def join():
            resource.setrlimit(resource.RLIMIT_CPU, (lim, lim))
            with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

        self.proc = subprocess.Popen([sys.executable, "-c", HOG_SRC.format(secs=self.secs)],
                                     stdin=subprocess.DEVNULL, preexec_fn=join)
        return self

    def stop_load(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc:
            self.proc.wait(timeout=10)

    def __exit__(self, *exc):
        self.stop_load()
        if self.path:
            os.rmdir(self.path)
        return False


def test_live_flip_sighup_sigterm(hq, tmp_path):
    """A CPU quota that one busy loop runs into flips cgroup-cpu-throttling ok -> warn/crit, and back
    to ok once the loop is gone and the window has passed; SIGHUP re-reads the thresholds file;
    SIGTERM stops it with a stop event and exit 0."""
    thr = tmp_path / "t.ini"
    thr.write_text("[thresholds]\ncgroup_throttled_periods_pct = 25, 50\n")
    p = subprocess.Popen([hq, "watch", "--json", "--window", "5s", "-i", "500ms", "--thresholds", str(thr),
                          "--no-bpf"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    buf = []
    try:
        read_until(p, buf, lambda b: sum(e["event"] == "start" for e in b) == len(FINDING_IDS), 30, "the start lines")
        assert sev_of(buf, "cgroup-cpu-throttling") == "ok", [e for e in buf if e.get("id") == "cgroup-cpu-throttling"]
        with QuotaCgroup(60) as cg:
            read_until(p, buf, lambda b: sev_of(b, "cgroup-cpu-throttling") in ("warn", "crit"), 40,
                       "cgroup-cpu-throttling to warn with a loop in a 10 % quota")
            flip = [e for e in buf if e.get("id") == "cgroup-cpu-throttling"][-1]
            name = os.path.basename(cg.path)
            assert name in flip["title"], flip
            assert any(x["metric"] == "throttled_periods_pct" and name in x["labels"]["cgroup"] and x["value"] >= 25
                       for x in flip["evidence"]), flip
            cg.stop_load()
            read_until(p, buf, lambda b: sev_of(b, "cgroup-cpu-throttling") == "ok", 40,
                       "cgroup-cpu-throttling back to ok once the loop is gone")
        flips = [e for e in buf if e.get("id") == "cgroup-cpu-throttling"]
        for a, c in zip(flips, flips[1:]):
            assert c["from"] == a["to"], (a, c)

        # SIGHUP: a good file is applied ...
        thr.write_text("[thresholds]\ncgroup_throttled_periods_pct = 30, 60\n")
        os.kill(p.pid, signal.SIGHUP)
        read_until(p, buf, lambda b: any(e["event"] == "thresholds" for e in b), 10, "the reload event")
        ev = [e for e in buf if e["event"] == "thresholds"][-1]
        assert ev["result"] == "applied" and ev["file"] == str(thr), ev
        # ... and a bad one refused whole, the thresholds in force staying
        thr.write_text("[thresholds]\npsi_cpu_some_pct = 50, 5\n")
        os.kill(p.pid, signal.SIGHUP)
        read_until(p, buf, lambda b: sum(e["event"] == "thresholds" for e in b) == 2, 10, "the second reload")
        ev = [e for e in buf if e["event"] == "thresholds"][-1]
        assert ev["result"] == "refused" and "warn is above crit" in ev["error"], ev

        os.kill(p.pid, signal.SIGTERM)
        out, err = p.communicate(timeout=15)
        buf += lines_json(out)
        assert p.returncode == 0, err
        assert buf[-1]["event"] == "stop" and buf[-1]["reason"] == "SIGTERM", buf[-1]
        assert buf[-1]["samples"] >= 20 and buf[-1]["restarts"] == 0
    finally:
        kill_tree(p)


def test_bad_arguments(hq, tmp_path):
    for args, says in ((["--window", "1s"], "at least 3s"), (["--interval", "10ms"], "at least 100ms"),
                       (["--thresholds", "/nonexistent/t.ini"], "cannot open"),
                       (["-t", "steal_pct_avg=50,10"], "warn is above crit"),
                       (["--replay", "a", "--replay", "b"], "twice"), (["--color", "banana"], "auto, always"),
                       (["extra"], "unexpected argument")):
        r = run([hq, "watch"] + args, timeout=20)
        assert r.returncode == 3, (args, r.stdout, r.stderr)
        assert says in r.stderr, (args, r.stderr)
    r = run([hq, "watch", "--json", "--window", "1s"], timeout=20)
    assert r.returncode == 3 and "at least 3s" in json.loads(r.stdout)["error"]
