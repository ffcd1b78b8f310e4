"""diagnose on this machine: the CLI contract, without root, fault injection,
and Ctrl-C."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import SANITIZED, Bundle, assert_no_crash, assert_unusable, const, diagnose_json, expected_exit, \
    finding, kill_tree, pct_sane, run, steal_bundle, wait_for, Result

IDS = {"vcpu-oversubscription", "guest-cpu-saturation", "cgroup-cpu-throttling"}


def test_diagnose_live_json(hq):
    r, doc = diagnose_json(hq, "-d", "3")
    assert IDS <= {f["id"] for f in doc["findings"]}
    assert r.returncode == expected_exit(doc)
    assert doc["source"] == "live" and doc["mode"] == "guest"
    assert doc["environment"]["vcpus"] == os.cpu_count()
    assert doc["window"]["windows_1s"] == 3
    assert 2.8 <= doc["window_s"] <= 5  # a loaded machine may delay the last sample
    assert doc["window"]["samples"] == 31
    assert doc["window"]["end_mono_ns"] > doc["window"]["start_mono_ns"]
    # the window is CLOCK_MONOTONIC, the clock of time.monotonic_ns()
    assert doc["window"]["end_mono_ns"] <= time.monotonic_ns()
    assert doc["capabilities"]["root"]["ok"] is (os.geteuid() == 0)
    fm = {f["id"]: f["failure_mode"] for f in doc["findings"]}
    assert fm["vcpu-oversubscription"] == 3 and fm["guest-cpu-saturation"] is None
    pct_sane(doc)
    # per-vCPU evidence for every online vCPU
    steal = finding(doc, "vcpu-oversubscription")
    if steal["severity"] != "unknown":
        cpus = {e["cpu"] for e in steal["evidence"] if e["metric"] == "steal_ticks"}
        assert cpus == set(range(os.cpu_count()))


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["help"], ["help", "diagnose"], ["diagnose", "--help"],
                                  ["capture", "--help"], ["--version"]])
def test_help(hq, argv):
    r = run([hq, *argv])
    assert r.returncode == 0, repr(r)
    assert r.stdout.strip()
    if argv[-1] != "--version":
        assert "Usage" in r.stdout
    if "diagnose" in argv:
        assert "--duration" in r.stdout and "--replay" in r.stdout and "Exit status" in r.stdout
    if argv in (["--help"], ["-h"], ["help"]):
        assert "diagnose" in r.stdout and "capture" in r.stdout


def test_list_thresholds(hq):
    r = run([hq, "diagnose", "--list-thresholds"])
    assert r.returncode == 0
    names = {ln.split()[0] for ln in r.stdout.splitlines() if ln.strip()}
    assert {"steal_pct_avg", "steal_pct_worst_1s", "steal_windows_ge_20", "psi_cpu_some_pct"} <= names


BAD_ARGS = [
    ["-d", "abc"], ["-d", "-5"], ["-d", ""], ["-d", "10 parsecs"], ["-i", "1ms"], ["-i", "nope"],
    ["-d", "100ms", "-i", "1s"], ["--bogus"], ["extra-argument"], ["-t", "nosuch=1,2"],
    ["-t", "steal_pct_avg=x,y"], ["-t", "steal_pct_avg"], ["-d"],
]


@pytest.mark.parametrize("args", BAD_ARGS, ids=[" ".join(a) or "empty" for a in BAD_ARGS])
def test_bad_args_exit_3_with_one_line_reason(hq, args):
    r = run([hq, "diagnose", *args], timeout=10)
    assert_unusable(r)
    assert r.elapsed < 5, "bad arguments must fail before watching"
    rj = run([hq, "diagnose", "--json", *args], timeout=10)
    assert rj.returncode == 3, repr(rj)
    doc = rj.json()
    assert isinstance(doc, dict) and isinstance(doc.get("error"), str) and doc["error"], doc
    assert "\n" not in doc["error"]


def test_unknown_command(hq):
    r = run([hq, "frobnicate"])
    assert r.returncode == 3
    assert "frobnicate" in r.stderr


def test_capture_bad_args(hq, tmp_path):
    assert_unusable(run([hq, "capture"]))
    assert_unusable(run([hq, "capture", "-o", tmp_path / "x", "-n", "0"]))
    assert_unusable(run([hq, "capture", "-o", tmp_path / "x", "-i", "1ms"]))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    r = run([hq, "capture", "-o", tmp_path / "full", "-n", "2"])
    assert_unusable(r)
    assert (tmp_path / "full" / "f").read_text() == "x", "capture must not touch a non-empty directory"


def test_threshold_override_changes_the_verdict(hq, tmp_path):
    """-t moves a threshold end to end: steady 15 % steal is warn by
    default, ok with warn raised to 20 %."""
    b = steal_bundle(tmp_path / "b", [const(15), const(15)], seconds=5)
    r, doc = diagnose_json(hq, "--replay", b.root)
    assert finding(doc, "vcpu-oversubscription")["severity"] == "warn"
    r, doc = diagnose_json(hq, "--replay", b.root, "-t", "steal_pct_avg=20,30")
    f = finding(doc, "vcpu-oversubscription")
    assert f["severity"] == "ok", f
    e = [e for e in f["evidence"] if e["metric"] == "steal_pct_avg" and "cpu" not in e][0]
    assert (e["warn"], e["crit"]) == (20, 30)
    assert r.returncode == 0


# ---------------------------------------------------------------- without root

def _setpriv_works():
    try:
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "true"],
                           capture_output=True, timeout=10)
        return p.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_diagnose_as_nobody(hq):
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to user nobody")
    if not _setpriv_works():
        pytest.skip("setpriv cannot switch to uid 65534 here")
    if not os.access(hq, os.X_OK) or (os.stat(hq).st_mode & 0o005) != 0o005:
        pytest.skip(f"{hq} is not readable+executable by others")
    r = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", hq, "diagnose", "--json", "-d", "3"],
            env={"HOME": "/"})
    assert r.returncode in (0, 1, 2), repr(r)
    doc = r.json()
    assert doc["exit"] == r.returncode == expected_exit(doc)
    root = doc["capabilities"]["root"]
    assert root["ok"] is False and "65534" in root["detail"], root
    judged = [f for f in doc["findings"] if f["severity"] != "unknown"]
    assert {f["id"] for f in judged} >= {"vcpu-oversubscription", "guest-cpu-saturation"}, doc["findings"]
    pct_sane(doc)


# ---------------------------------------------------------------- fault injection

def test_fault_psi_cpu_eio_falls_back(hq):
    r, doc = diagnose_json(hq, "-d", "3", env={"HIDDENQ_FAULT": "proc/pressure/cpu=EIO"})
    g = finding(doc, "guest-cpu-saturation")
    metrics = {e["metric"] for e in g["evidence"]}
    assert "psi_cpu_some_pct_avg" not in metrics, "PSI cpu was injected to fail, yet used"
    if g["severity"] == "unknown":
        assert g["title"] and g["explain"], g
    else:
        assert "runq_wait_pct_per_vcpu" in metrics, g
        assert "no PSI" in g["title"], g
    # the steal finding is unaffected
    assert finding(doc, "vcpu-oversubscription")["severity"] != "unknown"


def test_fault_procstat_eio(hq):
    r = run([hq, "diagnose", "--json", "-d", "3"], env={"HIDDENQ_FAULT": "proc/stat=EIO"})
    assert r.returncode in (0, 1, 2, 3), repr(r)
    doc = r.json()
    if "error" in doc:
        assert r.returncode == 3 and doc["error"]
        return
    assert doc["exit"] == r.returncode == expected_exit(doc)
    f = finding(doc, "vcpu-oversubscription")
    assert f["severity"] == "unknown", f
    assert "/proc/stat" in f["title"], f


def test_fault_procstat_short_reads(hq):
    """Every read of /proc/stat returns half the file: no sample is usable
    for steal, and truncated lines must not pass for an old kernel."""
    r, doc = diagnose_json(hq, "-d", "3", env={"HIDDENQ_FAULT": "proc/stat=short"}, expect_codes=(0, 1, 2, 3))
    if "error" in doc:
        return
    f = finding(doc, "vcpu-oversubscription")
    assert f["severity"] == "unknown", f
    assert "proc/stat" in r.stderr


# ---------------------------------------------------------------- Ctrl-C

def _proc_runtime_s(pid):
    """Seconds since the process started (/proc/PID/stat starttime vs uptime)."""
    with open(f"/proc/{pid}/stat") as fh:
        st = fh.read()
    start_ticks = int(st.rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as fh:
        up = float(fh.read().split()[0])
    return up - start_ticks / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("json_mode", [True, False], ids=["json", "text"])
def test_ctrl_c_gives_partial_report(hq, json_mode):
    args = [hq, "diagnose", "-d", "30"] + (["--json"] if json_mode else [])
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        # 3.5 s: long enough for 3 one-second windows, so findings are judged
        wait_for(lambda: p.poll() is not None or _proc_runtime_s(p.pid) >= 3.5, 20, "3.5 s of watching")
        assert p.poll() is None, "diagnose -d 30 ended on its own"
        t0 = time.monotonic()
        os.kill(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=10)
        took = time.monotonic() - t0
    finally:
        kill_tree(p)
    res = Result(args, p.returncode, out, err, took)
    assert_no_crash(res)
    assert took < 3, f"took {took:.2f} s to stop after SIGINT"
    assert res.returncode in (0, 1, 2), repr(res)
    if json_mode:
        doc = res.json()
        assert 3 <= doc["window_s"] < 10, doc["window_s"]
        assert doc["exit"] == res.returncode == expected_exit(doc)
        assert any(f["severity"] != "unknown" for f in doc["findings"])
    else:
        assert "vcpu-oversubscription" in res.stdout and "exit" in res.stdout, res.stdout
