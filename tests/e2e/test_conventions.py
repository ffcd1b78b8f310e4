"""One set of conventions for every command, and arguments rejected rather than reinterpreted (issue 16).

The sweeping tests discover the commands from `hiddenq --help` and the probes from `hiddenq probe --help`:
a command added to the table is held to the same rules without a line here.  Every command

- lists its exit codes in --help ("Exit status: ..."), and the global options;
- takes the global options (-j/--json, -q/--quiet, --color WHEN, -h/--help, -V/--version) before or
  after its name;
- reports a bad argument with exit 3, one line "hiddenq: ..." on stderr (no other prefix, such as
  getopt's "diagnose:" or argv[0]), and with --json a JSON object with a top-level "error" on stdout.

The rest go through the listed cases of the issue and the rest of each class: every number an option
reads at its limits, an option given twice, options that do not apply to --replay, and the smaller
items (probe net as non-root, probe jitter on a CPU it may not use, Ctrl-C in probe io, a bundle of
damaged samples, the layers in diagnose --help, the lab without its VM, the steal window counts, the
IO scheduler diagnose and the audit judge alike).  Every run here fails before it samples, or replays
a small bundle, or runs a probe for a fraction of a second.
"""
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (REPO, SANITIZED, Bundle, T0_NS, assert_no_crash, const, finding, kill_tree, procstat_text,
                      run, steal_bundle)

FAST = 20 if SANITIZED else 10  # seconds a run that must fail before sampling may take, at most


# ---------------------------------------------------------------- discovery

def listed(hq, args, heading):
    """The names under `heading:` in a --help text (two-space indented, one per line)."""
    r = run([hq, *args, "--help"], timeout=FAST)
    assert r.returncode == 0, r
    names, inside = [], False
    for line in r.stdout.splitlines():
        if line.strip() == heading + ":":
            inside = True
            continue
        if inside:
            m = re.match(r"^  ([a-z][a-z0-9-]*)\s", line)
            if not m:
                break
            names.append(m.group(1))
    assert names, f"no {heading} listed in hiddenq {' '.join(args)} --help"
    return names


@pytest.fixture(scope="module")
def commands(hq):
    """Every command and every probe, as argv prefixes: ["diagnose"], ..., ["probe", "jitter"]."""
    cmds = [[c] for c in listed(hq, [], "Commands")]
    assert ["probe"] in cmds and ["diagnose"] in cmds
    cmds += [["probe", p] for p in listed(hq, ["probe"], "Probes")]
    return cmds


def one_stderr_reason(r):
    """Exit 3, nothing on stdout but (with --json) the error object, and every stderr line ours."""
    assert r.returncode == 3, r
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines, f"exit 3 with nothing on stderr: {r!r}"
    for ln in lines:
        assert ln.startswith("hiddenq: "), f"a stderr line without the one prefix: {ln!r} in {r!r}"
    return lines[-1]


def json_error(r):
    """--json: exit 3 and one JSON object whose top-level "error" is a one-line reason."""
    one_stderr_reason(r)
    doc = r.json()
    assert isinstance(doc, dict), doc
    assert isinstance(doc.get("error"), str) and doc["error"] and "\n" not in doc["error"], doc
    assert doc.get("hiddenq") and doc.get("exit") == 3, doc
    return doc["error"]


# ---------------------------------------------------------------- the sweep over every command

def test_every_command_lists_its_exit_codes_and_the_global_options(hq, commands):
    for cmd in commands:
        r = run([hq, *cmd, "--help"], timeout=FAST)
        assert r.returncode == 0 and r.stdout.startswith("Usage: hiddenq"), (cmd, r)
        m = re.search(r"^Exit status: (.+(?:\n\S.*)*)", r.stdout, re.M)
        assert m, f"hiddenq {' '.join(cmd)} --help lists no exit status"
        assert re.search(r"\b0\b", m.group(1)) and re.search(r"\b3\b", m.group(1)), (cmd, m.group(1))
        for opt in ("--json", "--quiet", "--color WHEN", "--help", "--version"):
            assert opt in r.stdout, f"hiddenq {' '.join(cmd)} --help does not list {opt}"
        assert r.stderr == "", (cmd, r.stderr)


def test_every_command_rejects_a_bad_option_the_same_way(hq, commands):
    for cmd in commands:
        r = run([hq, *cmd, "--no-such-option"], timeout=FAST)
        reason = one_stderr_reason(r)
        assert "--no-such-option" in reason and r.stdout == "", (cmd, r)
        for j in ([*cmd, "--no-such-option", "--json"], ["--json", *cmd, "--no-such-option"],
                  [*cmd, "-j", "--no-such-option"]):
            assert "--no-such-option" in json_error(run([hq, *j], timeout=FAST)), j


def test_every_command_rejects_a_leftover_operand(hq, commands):
    for cmd in commands:
        if cmd == ["probe"]:
            continue  # its operand is the probe's name: an unknown one is the next test
        r = run([hq, *cmd, "stray-operand", "--json"], timeout=FAST)
        assert "stray-operand" in json_error(r), cmd


def test_unknown_command_and_probe(hq):
    assert "frobnicate" in json_error(run([hq, "frobnicate", "--json"], timeout=FAST))
    assert "frobnicate" in json_error(run([hq, "probe", "frobnicate", "--json"], timeout=FAST))
    assert "which one" in json_error(run([hq, "--json", "probe"], timeout=FAST))
    r = run([hq, "probe", "--no-such-option"], timeout=FAST)
    one_stderr_reason(r)


def test_every_command_takes_the_global_options(hq, commands):
    for cmd in commands:
        for g in (["--quiet", "--color", "never"], ["-q", "--color=always"]):
            r = run([hq, *cmd, *g, "--help"], timeout=FAST)
            assert r.returncode == 0 and "Usage" in r.stdout, (cmd, g, r)
        r = run([hq, *cmd, "--version"], timeout=FAST)
        assert r.returncode == 0 and r.stdout.startswith("hiddenq ") and "features:" in r.stdout, (cmd, r)
        assert "banana" in json_error(run([hq, *cmd, "--color", "banana", "--json"], timeout=FAST)), cmd
    # before the command name: parsed once, before dispatch
    assert "banana" in json_error(run([hq, "--json", "--color", "banana", "topo"], timeout=FAST))
    r = run([hq, "--json", "-q", "--color", "never", "topo"], timeout=FAST)
    assert r.returncode == 0 and r.json()["hiddenq"], r


def test_version_names_the_build_features(hq):
    r = run([hq, "--version"], timeout=FAST)
    assert r.returncode == 0 and re.match(r"^hiddenq \S+\nfeatures: [a-z0-9]+(, [a-z0-9]+)*\n$", r.stdout), r
    j = run([hq, "--json", "--version"], timeout=FAST)
    doc = j.json()
    assert j.returncode == 0 and isinstance(doc["features"], list) and doc["features"], doc
    assert ", ".join(doc["features"]) == r.stdout.splitlines()[1].split(": ", 1)[1]
    static = REPO / "build" / "hiddenq-static"
    if static.exists():  # no libmicrohttpd in the static build: its serve speaks plain HTTP only, and says so here
        s = run([static, "--json", "--version"], timeout=FAST).json()
        assert "http" in s["features"] and "tls" not in s["features"], s


# ---------------------------------------------------------------- numbers at their limits

# (command, option, values that are valid there and must not be in the hostile list)
NUMERIC = [
    (["diagnose"], "--duration", ()), (["diagnose"], "--interval", ()),
    (["watch"], "--interval", ()), (["watch"], "--window", ()),
    (["top"], "--interval", ()), (["top"], "--window", ()), (["top"], "--count", ()),
    (["serve"], "--interval", ()), (["serve"], "--window", ()), (["serve"], "--max-connections", ()),
    (["rules", "--prometheus"], "--window", ()),
    (["metrics"], "--duration", ()),
    (["record", "-o", "/nonexistent/x"], "--interval", ()), (["record", "-o", "/nonexistent/x"], "--duration", ()),
    (["record", "-o", "/nonexistent/x"], "--count", ()), (["record", "-o", "/nonexistent/x"], "--max-size", ()),
    (["record", "-o", "/nonexistent/x"], "--max-age", ()),
    (["capture", "-o", "/nonexistent/x"], "--interval", ()), (["capture", "-o", "/nonexistent/x"], "--count", ()),
    (["capture", "-o", "/nonexistent/x"], "--duration", ()),
    (["fit", "--mem", "1G"], "--vcpus", ()), (["fit", "--vcpus", "2"], "--mem", ()),
    (["fit", "--vcpus", "2", "--mem", "1G"], "--sockets", ()),
    (["fit", "--vcpus", "2", "--mem", "1G"], "--cores-per-socket", ()),
    (["fit", "--vcpus", "2", "--mem", "1G"], "--threads-per-core", ()),
    (["fit", "--vcpus", "2", "--mem", "1G"], "--nodes", ()),
    (["fit", "--vcpus", "2", "--mem", "1G"], "--mem-per-node", ()),
    (["vms"], "--duration", ()), (["vms"], "--interval", ()),
    (["lab"], "--spike", ()),
    (["sim", str(REPO / "examples/sim/migration.ini")], "--seed", ("0",)),
    (["sim", str(REPO / "examples/sim/migration.ini")], "--jobs", ()),
    (["probe", "jitter"], "--duration", ()), (["probe", "jitter"], "--interval", ()),
    (["probe", "jitter"], "--slack", ()), (["probe", "jitter"], "--priority", ("0",)),
    (["probe", "jitter", "--gaps"], "--gap-threshold", ()), (["probe", "jitter"], "--cpu", ("0",)),
    (["probe", "mem"], "--max-size", ()), (["probe", "mem"], "--min-size", ()),
    (["probe", "mem"], "--pair-size", ()), (["probe", "mem"], "--time", ()),
    (["probe", "io"], "--size", ()), (["probe", "io"], "--duration", ()), (["probe", "io"], "--gap", ()),
    (["probe", "oversub"], "--period", ()), (["probe", "oversub"], "--work", ()),
    (["probe", "oversub"], "--step", ()), (["probe", "oversub"], "--max-factor", ()),
    (["probe", "dirty"], "--pid", ()), (["probe", "dirty"], "--rate", ()), (["probe", "dirty"], "--wss", ()),
    (["probe", "dirty"], "--duration", ()), (["probe", "dirty"], "--bandwidth", ()),
    (["probe", "dirty"], "--downtime", ()), (["probe", "dirty"], "--mem-size", ()),
    (["probe", "net"], "--duration", ()), (["probe", "net"], "--queues", ()), (["probe", "net"], "--size", ()),
    (["probe", "wakeup"], "--per-gap", ()),
]
HOSTILE = ["0", "-1", "", "nan", "inf", "-inf", "1e999", "0x10", "7junk", " 5", "+5", "99999999999999999999999"]


def test_every_number_at_its_limits_is_refused(hq, commands):
    """Zero, negative, empty, nan, inf, overflow, hex, trailing junk, blanks, a sign: each refused before
    anything runs, naming the option.  The table covers every command (a command with a number not
    listed here fails the check at the end)."""
    for pre, opt, valid in NUMERIC:
        for v in HOSTILE:
            if v in valid:
                continue
            r = run([hq, *pre, opt, v, "--json"], timeout=FAST)
            assert r.returncode == 3, (pre, opt, v, r)
            assert opt in json_error(r), (pre, opt, v, r.stderr)
            assert r.elapsed < FAST / 2, f"{pre} {opt} {v!r}: refused only after {r.elapsed:.1f} s"
    # every option of every command that takes a number is in the table
    covered = {(tuple(p[:2]) if p[0] == "probe" else (p[0],), o) for p, o, _ in NUMERIC}
    for cmd in commands:
        text = run([hq, *cmd, "--help"], timeout=FAST).stdout
        for m in re.finditer(r"^\s+(?:-\w, )?(--[a-z-]+) (N|TIME|SIZE|RATE|MIB|BYTES)\b", text, re.M):
            if m.group(1) in ("--from", "--to"):
                continue  # a time of day: test_a_time_of_day_is_checked
            assert (tuple(cmd), m.group(1)) in covered, f"hiddenq {' '.join(cmd)} {m.group(1)} is not tested"


def test_threshold_levels_are_checked(hq, tmp_path):
    b = steal_bundle(tmp_path / "b", [const(5)], seconds=4)
    for spec, says in (("steal_pct_avg=50,10", "above crit"), ("steal_pct_avg=nan,inf", "finite"),
                       ("sustained_windows=0,0", "at least 1"), ("steal_pct_avg=1e999,2", "not a number"),
                       ("steal_pct_avg=-2,5", "never negative"), ("steal_pct_avg=0x10,20", "not a number")):
        r = run([hq, "diagnose", "--replay", b.root, "-t", spec, "--json"], timeout=FAST)
        assert says in json_error(r), spec
    r = run([hq, "diagnose", "--list-thresholds", "--json"], timeout=FAST)
    assert r.returncode == 0 and r.json()["thresholds"], r


def test_a_time_of_day_is_checked(hq, tmp_path):
    b = steal_bundle(tmp_path / "b", [const(5)], seconds=2)
    for t in ("2026-01-01T00:00:nan", "2026-01-01T00:00:inf", "2026-01-01T00:00:0x1", "2026-13-01", "@-5",
              "@nan", "yesterday"):
        r = run([hq, "diagnose", "--replay", b.root, "--from", t, "--json"], timeout=FAST)
        assert "bad --from" in json_error(r), t


# ---------------------------------------------------------------- options twice, options that do not apply

def test_an_option_given_twice_is_refused(hq, tmp_path, commands):
    b = steal_bundle(tmp_path / "b", [const(5)], seconds=2)
    replaying = []
    for cmd in commands:
        if re.search(r"^\s+(-r, )?--replay\b", run([hq, *cmd, "--help"], timeout=FAST).stdout, re.M):
            replaying.append(cmd)
            r = run([hq, *cmd, "--replay", b.root, "--replay", b.root, "--json"], timeout=FAST)
            assert "--replay given twice" in json_error(r), cmd
    assert ["diagnose"] in replaying and ["vms"] in replaying and ["topo"] in replaying
    for argv in (["diagnose", "-d", "1", "-d", "2"], ["capture", "-o", "x", "-o", "y"],
                 ["fit", "--vcpus", "2", "--vcpus", "3", "--mem", "1G"], ["probe", "io", "--size", "4M", "-s", "8M"]):
        assert "twice" in json_error(run([hq, *argv, "--json"], timeout=FAST)), argv
    # the repeatable ones stay repeatable
    r = run([hq, "diagnose", "--replay", b.root, "-t", "steal_pct_avg=10,20", "-t", "steal_pct_avg=11,21", "--json"],
            timeout=FAST)
    assert r.returncode in (0, 1, 2, 3) and "error" not in r.json(), r


LIVE_ONLY = [
    (["diagnose"], ["-d", "2s"]), (["diagnose"], ["-i", "50ms"]), (["diagnose"], ["--no-bpf"]),
    (["diagnose"], ["--no-tasks"]), (["diagnose"], ["--sources", "-numa"]), (["diagnose"], ["--stalls", "off"]),
    (["diagnose"], ["--runq-split"]),
    (["watch"], ["-i", "2s"]), (["watch"], ["--no-net"]),
    (["top"], ["-i", "2s"]), (["top"], ["--no-tasks"]), (["top"], ["--stalls", "off"]),
    (["metrics"], ["-d", "2s"]), (["metrics"], ["--no-bpf"]),
    (["vms"], ["-d", "2s"]), (["vms"], ["-i", "50ms"]), (["vms"], ["--no-bpf"]),
    (["vms"], ["--qmp", "a=/nonexistent"]),
    (["topo"], ["--no-hwloc"]),
    (["capture", "-o", "/nonexistent/x"], ["-n", "5"]), (["capture", "-o", "/nonexistent/x"], ["-i", "50ms"]),
    (["capture", "-o", "/nonexistent/x"], ["--no-tasks"]),
    (["serve"], ["--no-tasks"]),
]


def test_live_only_options_with_replay_are_refused(hq, tmp_path):
    """--replay reads a bundle: what only a live run can change (how long, how often, which sources) is
    an error that says why, not silently ignored."""
    b = steal_bundle(tmp_path / "b", [const(5)], seconds=2)
    for pre, opts in LIVE_ONLY:
        r = run([hq, *pre, "--replay", b.root, *opts, "--json"], timeout=FAST)
        reason = json_error(r)
        assert "does not apply to --replay" in reason and opts[0].lstrip("-").split("=")[0] in reason, (pre, opts,
                                                                                                        reason)
    r = run([hq, "record", "-o", tmp_path / "r.db", "--from-bundle", b.root, "--no-tasks", "--json"], timeout=FAST)
    assert "does not apply to --from-bundle" in json_error(r)
    r = run([hq, "metrics", "--catalog", "-d", "2s", "--json"], timeout=FAST)
    assert "does not apply to --catalog" in json_error(r)


CONFLICTS = [
    (["capture", "-o", "/nonexistent/x", "-n", "5", "-d", "1s"], "not both"),
    (["capture", "-o", "/nonexistent/x", "-n", "1"], "--count"),
    (["capture", "-o", "/nonexistent/x", "-d", "50ms", "-i", "100ms"], "shorter than --interval"),
    (["probe", "dirty", "-d", "31s"], "30 s"),
    (["probe", "dirty", "--pid", "1", "--rate", "8M"], "own workload"),
    (["probe", "dirty", "--method", "qmp"], "--qmp"),
    (["probe", "jitter", "--gap-threshold", "20us"], "--gaps"),
    (["probe", "io", "--no-spaced", "--gap", "3ms"], "--no-spaced"),
    (["probe", "io", "--target", "/dev/null", "--size", "8M"], "--target"),
    (["probe", "mem", "--min-size", "64M", "--max-size", "8M"], "--min-size"),
    (["probe", "mem", "--no-pairs", "--pair-size", "8M"], "--no-pairs"),
    (["lab", "--spike", "64", "--quick"], "--spike"),
    (["lab", "--vm-driver", "/x"], "--with-vm"),
    (["audit", "--only-xml"], "--xml"),
    (["vms", "--qmp", "x=/nonexistent"], "/nonexistent"),
    (["vms", "--qmp-histograms"], "--qmp"),
    (["vms", "-d", "100ms", "-i", "1s"], "longer than --duration"),
    (["sim", "--sweep", "host.cpus=2..4", "--csv", "x.ini"], "pick one"),
    (["sim", "--vm", "web", "x.ini"], "--bundle"),
    (["sim", "--view", "host", "x.ini"], "--bundle"),
    (["sim", "-J", "2", "x.ini"], "--sweep"),
    (["report", "x", "--text"], "pick one"),
]


def test_conflicting_options_are_refused(hq):
    for argv, says in CONFLICTS:
        r = run([hq, *argv, "--json"], timeout=FAST)
        assert says in json_error(r), (argv, r.stderr)
        assert r.elapsed < FAST / 2, argv


def test_vms_qmp_must_be_a_socket(hq, tmp_path):
    f = tmp_path / "not-a-socket"
    f.write_text("")
    assert "not a unix socket" in json_error(run([hq, "vms", "--qmp", f"x={f}", "--json"], timeout=FAST))


# ---------------------------------------------------------------- capture, probes: the same JSON

def test_capture_json_summary(hq, tmp_path):
    # --no-numa: the numa_maps walk has a 50 ms budget, and a loaded machine makes it warn (not what this tests)
    r = run([hq, "capture", "-o", tmp_path / "b", "-n", "2", "-i", "50ms", "--no-tasks", "--no-bpf", "--no-numa",
             "--json"], timeout=60)
    doc = r.json()
    assert r.returncode == 0 and doc["written"] == 2 and doc["bundle"] == str(tmp_path / "b"), r
    assert "error" not in doc and r.stderr == "", r
    r = run([hq, "capture", "-o", tmp_path / "b", "-n", "2", "--json"], timeout=60)  # not empty any more
    json_error(r)


def as_nobody():
    os.setgid(65534)
    os.setgroups([])
    os.setuid(65534)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to nobody")
def test_probe_net_as_non_root(hq):
    """A probe that fails says so the way every command does: exit 3, the reason on stderr, and in JSON a
    top-level "error" (the result keeps its own); no "(null)" anywhere."""
    r = run([hq, "probe", "net", "-d", "100ms"], timeout=FAST, preexec=as_nobody)
    assert "root" in one_stderr_reason(r)
    assert "(null)" not in r.stdout and r.stdout.startswith("hiddenq "), r
    j = run([hq, "probe", "net", "-d", "100ms", "--json"], timeout=FAST, preexec=as_nobody)
    assert "root" in json_error(j)
    assert j.json()["result"]["error"] == j.json()["error"]


def test_probe_jitter_on_a_cpu_it_may_not_use(hq):
    cpu = len(os.sched_getaffinity(0)) + 3
    while cpu in os.sched_getaffinity(0):
        cpu += 1
    r = run([hq, "probe", "jitter", "-c", str(cpu), "-d", "100ms"], timeout=FAST)
    assert f"--cpu {cpu}" in one_stderr_reason(r) and r.stdout == "", r


def test_probe_jitter_takes_its_documented_small_values(hq):
    r = run([hq, "probe", "jitter", "-d", "100ms", "-i", "50us", "--slack", "1ns", "-p", "0", "--no-dma",
             "--json"], timeout=30)
    doc = r.json()
    assert r.returncode == 0 and doc["result"]["timer_slack_ns"] == 1 and doc["result"]["interval_us"] == 50, r


def test_ctrl_c_in_probe_io_prints_no_nan(hq, tmp_path):
    """Stopped during its first phase, probe io leaves the spaced phase out and says so: no nan, no '-nan',
    valid JSON (nan is not JSON)."""
    for js in ([], ["--json"]):
        d = tmp_path / ("j" if js else "t")
        d.mkdir()
        p = subprocess.Popen([hq, "probe", "io", "--dir", d, "-s", "8M", "-d", "3s", *js], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:  # the test file, filled: the first phase is on
                files = list(d.rglob("probe.dat"))
                if files and files[0].stat().st_size >= 8 << 20:
                    break
                time.sleep(0.02)
            time.sleep(0.3)
            os.kill(p.pid, signal.SIGINT)
            out, err = p.communicate(timeout=30)
        finally:
            kill_tree(p)
        text = out.decode()
        assert "nan" not in text.lower(), text
        if js:
            doc = json.loads(text)
            assert doc["interrupted"] and "spaced" not in doc["result"] and "interrupted" in doc["result"]["note"]
        else:
            assert "interrupted" in text and "idle-gap effect" not in text, text
        assert not list(d.rglob("probe.dat")), "the probe's file was left behind"


# ---------------------------------------------------------------- warnings that summarize

def test_damaged_samples_are_summarized(hq, tmp_path):
    """A bundle of thousands of damaged samples gives a few warnings and a count, not a line each."""
    b = steal_bundle(tmp_path / "b", [const(5)], seconds=4)
    bad = 3000
    for i in range(bad):
        (b.samples / f"9{i:05d}").mkdir()  # no time file: skipped
    r = run([hq, "diagnose", "--replay", b.root, "--json"], timeout=60)
    assert r.returncode in (0, 1, 2, 3) and "findings" in r.json(), r
    lines = r.stderr.splitlines()
    assert len(lines) <= 10, f"{len(lines)} stderr lines for {bad} damaged samples"
    assert all(ln.startswith("hiddenq: ") for ln in lines), lines
    assert any(f"{bad - 5} more" in ln for ln in lines) and any(f"{bad} samples" in ln for ln in lines), lines
    # the same reader under every command that replays: watch, top, report, vms, metrics
    for argv in (["watch", "--replay", b.root], ["top", "--replay", b.root, "--batch"],
                 ["report", b.root, "--text"], ["vms", "--replay", b.root], ["metrics", "--replay", b.root]):
        r = run([hq, *argv], timeout=60)
        lines = r.stderr.splitlines()
        assert r.returncode in (0, 1, 2, 3) and 0 < len(lines) <= 10, (argv, len(lines), lines[:3])
        assert all(ln.startswith("hiddenq: ") for ln in lines), (argv, lines)


# ---------------------------------------------------------------- words that match the numbers

def test_diagnose_help_names_every_layer(hq, tmp_path):
    b = steal_bundle(tmp_path / "b", [const(5)], seconds=4)
    doc = run([hq, "diagnose", "--replay", b.root, "--json"], timeout=60).json()
    text = run([hq, "diagnose", "--help"], timeout=FAST).stdout
    ids = [f["id"] for f in doc["findings"]]
    assert len(ids) >= 11
    for i in ids:
        assert re.search(rf"^  .+\s{re.escape(i)}$", text, re.M), f"diagnose --help does not name {i}"


def test_steal_window_counts_have_their_own_denominator(hq, tmp_path):
    """Two vCPUs at 60 % steal for 4 s: every one of the 2 x 4 windows is >= 20 % and >= 50 %; the counts
    add both vCPUs, so the denominator does too."""
    b = steal_bundle(tmp_path / "b", [const(60), const(60)], seconds=4)
    r = run([hq, "diagnose", "--replay", b.root], timeout=60)
    m = re.search(r"1 s windows of (\d+) vCPUs: (\d+) of (\d+) >= 20 %, (\d+) >= 50 %", r.stdout)
    assert m, r.stdout
    ncpu, n20, total, n50 = map(int, m.groups())
    assert ncpu == 2 and n20 == total == n50 and total % 2 == 0 and total >= 6, m.group(0)
    assert "(of " not in r.stdout


def test_lab_without_a_vm_blames_no_vm_driver(hq):
    r = run([hq, "lab", "--quick", "--only", "memory-overcommit", "--json"], timeout=90)
    assert r.returncode == 0, r
    exp = r.json()["experiments"][0]
    assert "driver" not in (exp.get("needs") or "") and "driver" not in exp["measured"], exp
    assert "with-vm" in (exp.get("needs") or "") or exp["status"] != "measured", exp


def disk_bundle(root, sched, busy_ms_per_s):
    """vda with `sched` active, 200 reads a second, a psi io share; the scheduler file among the statics."""
    b = Bundle(root, meta_extra={"static": [".hiddenq/identity.json", "sys/block/vda/queue/scheduler",
                                            "sys/block/vda/queue/rotational"]})
    choices = " ".join(f"[{s}]" if s == sched else s for s in ("none", "mq-deadline", "kyber", "bfq"))
    for k in range(41):  # 4 s at 100 ms
        reads, ms = 20 * k, busy_ms_per_s / 10 * k
        cpus = [{"user": 1000 + 5 * k, "idle": 9000 + 5 * k}]
        files = {"proc/stat": procstat_text(cpus),
                 "proc/diskstats": f" 252 0 vda {reads} 0 {reads * 8} {int(ms)} 0 0 0 0 0 {int(ms)} {int(ms)}"
                                   f" 0 0 0 0\n",
                 "proc/pressure/io": f"some avg10=0 avg60=0 avg300=0 total={int(ms * 1000 * 0.5)}\n"
                                     f"full avg10=0 avg60=0 avg300=0 total=0\n"}
        if k == 0:
            files["sys/block/vda/queue/scheduler"] = choices + "\n"
            files["sys/block/vda/queue/rotational"] = "1\n"
        b.add(T0_NS + k * 100_000_000, files)
    return b


def audit_root(root, sched):
    choices = " ".join(f"[{s}]" if s == sched else s for s in ("none", "mq-deadline", "kyber", "bfq"))
    q = Path(root) / "sys/block/vda/queue"
    q.mkdir(parents=True)
    (q / "scheduler").write_text(choices + "\n")
    (q / "rotational").write_text("1\n")
    (Path(root) / "proc").mkdir()
    (Path(root) / "proc/cpuinfo").write_text("processor\t: 0\nflags\t\t: fpu hypervisor\n")
    return root


def test_diagnose_and_audit_judge_the_scheduler_alike(hq, tmp_path):
    """mq-deadline on virtio-blk: the audit passes it, so diagnose does not tell the user to change it
    (it says why it is fine); bfq: the audit fails it and diagnose says to change it, both with the reason."""
    for sched, ok in (("mq-deadline", True), ("none", True), ("bfq", False)):
        a = run([hq, "audit", "--root", audit_root(tmp_path / f"root-{sched}", sched), "--json"], timeout=FAST)
        rows = [it for it in a.json()["items"] if it["id"] == "guest-io-scheduler" and it["subject"] == "vda"]
        assert len(rows) == 1 and rows[0]["result"] == ("pass" if ok else "fail"), (sched, a)
        d = run([hq, "diagnose", "--replay", disk_bundle(tmp_path / f"b-{sched}", sched, 400).root, "--json"],
                timeout=60).json()
        io = finding(d, "io-layer-latency")
        nxt = " ".join(io["next"])
        if sched == "bfq":
            assert "scheduler none" in nxt and "audit fails" in nxt, io
            assert rows[0]["note"].split(":")[0] in io["explain"], (rows[0], io)
        elif sched == "mq-deadline":
            assert "fine" in io["explain"] and "audit passes" in io["explain"], io
            assert rows[0]["note"] in io["explain"], (rows[0], io)
            if io["severity"] in ("ok", "unknown"):
                assert "scheduler none" not in nxt, io
        else:
            assert "scheduler" not in nxt and "note" not in rows[0], (io, rows[0])


# ---------------------------------------------------------------- one header, one unit style, plurals

def text_outputs(hq, tmp_path):
    """(command, text) of the commands that can run here in a moment, from a bundle where they can."""
    b = steal_bundle(tmp_path / "b", [const(5), const(40)], seconds=4)
    cap = tmp_path / "cap"
    r = run([hq, "capture", "-o", cap, "-n", "3", "-i", "100ms", "--sources", "+vms", "-q"], timeout=60)
    assert r.returncode == 0, r
    outs = [("diagnose", run([hq, "diagnose", "--replay", b.root, "-v"], timeout=60)),
            ("vms", run([hq, "vms", "--replay", cap], timeout=60)),
            ("topo", run([hq, "topo", "--replay", cap], timeout=60)),
            ("fit", run([hq, "fit", "--vcpus", "1", "--mem", "1G", "--sockets", "1", "--cores-per-socket", "1",
                         "--mem-per-node", "2G"], timeout=FAST)),
            ("audit", run([hq, "audit"], timeout=60)),
            ("metrics", run([hq, "metrics", "--catalog"], timeout=FAST)),
            ("top", run([hq, "top", "--replay", b.root, "-n", "1"], timeout=60)),
            ("report", run([hq, "report", b.root, "--text", "-q"], timeout=60)),
            ("sim", run([hq, "sim", REPO / "examples/sim/migration.ini", "--set", "sim.duration=20"], timeout=60)),
            ("probe jitter", run([hq, "probe", "jitter", "-d", "100ms", "-p", "0", "--no-dma", "--gaps"], timeout=30)),
            ("probe io", run([hq, "probe", "io", "--dir", tmp_path, "-s", "4M", "-d", "100ms", "--gap", "1ms"],
                             timeout=30))]
    for name, res in outs:
        assert res.returncode in (0, 1, 2), (name, res)
    return [(n, r.stdout) for n, r in outs]


def test_one_header_one_unit_style_and_plurals(hq, tmp_path):
    for name, text in text_outputs(hq, tmp_path):
        first = text.splitlines()[0]
        assert re.match(rf"^hiddenq \S+ {re.escape(name)} — \S", first), (name, first)
        assert not re.search(r"\d us\b", text), (name, re.search(r".*\d us\b.*", text).group(0))
        assert " -> " not in text, (name, text)
        assert "(null)" not in text and not re.search(r"\bnan\b", text, re.I), (name, text)
        bad = re.search(r"(?<![\d.])1 (VMs|vCPUs|CPUs|nodes|qdiscs|samples|cores|threads|sockets|copies|windows|"
                        r"stalls|cgroups|gaps|rounds|tasks|periods|sleeps|timers|configurations)\b", text)
        assert not bad, (name, bad.group(0), text)


def test_sources_keep_one_unit_style(hq):
    """The text the commands print is in the source: no ' us' after a number, no '->' arrow in a string."""
    bad = []
    for p in sorted((REPO / "src").rglob("*.c")):
        for n, line in enumerate(p.read_text().splitlines(), 1):
            s = line.strip()
            if s.startswith(("/*", "*", "//")):
                continue
            for lit in re.findall(r'"((?:[^"\\]|\\.)*)"', line):
                if re.search(r"(%[-+ #0-9.]*[a-z]+|\d) us\b", lit) or " -> " in lit:
                    bad.append(f"{p.relative_to(REPO)}:{n}: {lit}")
    assert not bad, "\n".join(bad)
