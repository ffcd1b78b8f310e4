"""Verdicts are earned (issue 16): a finding whose source was switched off is
`unknown` with the reason and what would give it one.

Live runs are short and use this machine as it is; the damaged and the
switched-off cases that need a precise history are synthetic bundles."""
import json
import os

import pytest

from conftest import T0_NS, Bundle, const, diagnose_json, finding, procstat_text, run, steal_bundle

# ---------------------------------------------------------------- a source switched off

def test_no_stalls_is_unknown_not_ok(hq):
    """--no-stalls: nothing measured a stall, so "0 stalls in 0 sleeps, ok" was unearned."""
    r, doc = diagnose_json(hq, "-d", "3", "--no-stalls", "-q", timeout=60)
    f = finding(doc, "execution-stalls")
    during = [e for e in f["evidence"] if e["metric"] == "kernel_log_during_watch"]
    if during:  # someone's kernel-log sign during the watch would be a real crit
        assert f["severity"] == "crit", f
        return
    assert f["severity"] == "unknown", f
    assert "switched off (--no-stalls)" in f["title"], f["title"]
    assert any("without --no-stalls" in n for n in f["next"]), f["next"]
    assert not [e for e in f["evidence"] if e["metric"] in ("stalls", "sampler_loops")], f["evidence"]


def test_no_stalls_recorded_in_a_capture(hq, tmp_path):
    """The switch travels with the bundle: its replay says the sampler was switched off, not missing."""
    out = tmp_path / "b"
    r = run([hq, "capture", "-o", out, "-d", "3", "--no-stalls", "--no-bpf", "-q"], timeout=60)
    assert r.returncode == 0, r
    meta = json.loads((out / "meta.json").read_text())
    st = meta["sources"][".hiddenq/stalls.json"]
    assert st["available"] is False and "--no-stalls" in st["reason"], st
    sw = json.loads((out / "samples/000000/.hiddenq/switches.json").read_text())
    assert sw["stalls"] is False and sw["kmsg"] is False and sw["bpf"] is False and sw["tasks"] is True, sw
    r, doc = diagnose_json(hq, "--replay", out, "-q")
    f = finding(doc, "execution-stalls")
    assert f["severity"] == "unknown" and "--no-stalls" in f["title"], f
    io = finding(doc, "io-layer-latency")
    assert "run as root on a kernel with BTF" not in " ".join(io["next"]), io  # it was switched off
    assert doc["capabilities"]["eBPF"]["detail"] == "switched off (--no-bpf)", doc["capabilities"]["eBPF"]


def stall_bundle(root, switches, kmsg=None, seconds=4):
    def extra(k):
        files = {".hiddenq/switches.json": json.dumps(switches)} if k == 0 else {}
        if kmsg is not None:
            files[".hiddenq/kmsg.json"] = json.dumps(kmsg if k == 2 else {"available": True, "matches": []})
        return files
    return steal_bundle(root, [const(0), const(0)], seconds=seconds, extra_files=extra)


def test_kernel_log_sign_without_the_sampler_still_counts(hq, tmp_path):
    """With the sampler off, a soft lockup the kernel logged during the watch is still a crit."""
    kmsg = {"available": True, "matches": [{"usec": 10 ** 9, "prio": 4, "kind": "soft-lockup", "history": False,
                                            "msg": "watchdog: BUG: soft lockup - CPU#0 stuck for 22s!"}]}
    stall_bundle(tmp_path / "b", {"stalls": False, "kmsg": True}, kmsg)
    r, doc = diagnose_json(hq, "--replay", tmp_path / "b", "-q")
    f = finding(doc, "execution-stalls")
    assert f["severity"] == "crit", f
    assert "soft-lockup" in f["title"], f["title"]
    assert not [e for e in f["evidence"] if e["metric"] == "sampler_loops"], f["evidence"]
    # and without the sign: unknown, switched off
    stall_bundle(tmp_path / "c", {"stalls": False, "kmsg": True}, {"available": True, "matches": []})
    r, doc = diagnose_json(hq, "--replay", tmp_path / "c", "-q")
    f = finding(doc, "execution-stalls")
    assert f["severity"] == "unknown" and "--no-stalls" in f["title"], f


def test_other_switches_are_named(hq, tmp_path):
    """--no-cgroups and --no-tasks (capture): the finding names the switch, not a missing kernel feature."""
    stall_bundle(tmp_path / "b", {"stalls": True, "cgroups": False, "tasks": False, "bpf": False})
    r, doc = diagnose_json(hq, "--replay", tmp_path / "b", "-q")
    cg = finding(doc, "cgroup-cpu-throttling")
    assert cg["severity"] == "unknown" and "--no-cgroups" in cg["title"], cg
    assert "--no-cgroups" in doc["capabilities"]["cgroup"]["detail"], doc["capabilities"]["cgroup"]
    assert "--no-tasks" in doc["capabilities"]["run delay"]["detail"], doc["capabilities"]["run delay"]
    g = finding(doc, "guest-cpu-saturation")  # this bundle has no PSI either
    assert g["severity"] == "unknown" and "--no-tasks" in g["title"], g
