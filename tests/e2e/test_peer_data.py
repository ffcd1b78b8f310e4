"""Bundles made from other projects' real /proc snapshots (../shared/peer-data):
sysstat's test roots (CPUs going offline, tickless CPU, iowait going
backwards, an old /proc/stat without steal) and the Prometheus procfs
fixtures (with symlinks that point out of the tree).  Replay must not crash
and must report sane numbers.
"""
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import REPO, assert_unusable, ev_cpu, expected_exit, finding, pct_sane, run

PEER = Path(os.environ.get("HIDDENQ_PEER_DATA", REPO.parent / "shared" / "peer-data"))


def need(sub):
    p = PEER / sub
    if not p.is_dir():
        pytest.skip(f"peer data {p} absent (set HIDDENQ_PEER_DATA to its folder)")
    return p


def write_meta(root, interval_ms):
    (root / "meta.json").write_text('{"format": "hiddenq-capture/1", "interval_ms": %d, "static": []}' % interval_ms)


def replay_ok(hq, root):
    # the engine's other consumers survive the same data, and say why for what they lack
    m = run([hq, "metrics", "--json", "--replay", root])
    assert m.returncode in (0, 3), repr(m)
    if m.returncode == 0:
        md = m.json()
        assert all(x["available"] or x["reason"] for x in md["sources"] + md["metrics"])
    w = run([hq, "watch", "--json", "-w", "3s", "--replay", root])
    assert w.returncode in (0, 3), repr(w)
    r = run([hq, "diagnose", "--json", "--replay", root])
    assert r.returncode in (0, 1, 2, 3), repr(r)
    doc = r.json()
    if "error" in doc:
        assert r.returncode == 3
        return r, doc
    assert doc["exit"] == r.returncode == expected_exit(doc)
    pct_sane(doc)
    return r, doc


def test_sysstat_roots_1_to_5(hq, tmp_path):
    src = need("sysstat-roots")
    b = tmp_path / "b"
    (b / "samples").mkdir(parents=True)
    write_meta(b, 30000)
    uptimes = []
    for i, name in enumerate(["root1", "root2", "root3", "root4", "root5"]):
        up = float((src / name / "proc" / "uptime").read_text().split()[0])
        uptimes.append(up)
        d = b / "samples" / f"{i:06d}"
        shutil.copytree(src / name, d, symlinks=True)  # copies, not links to the peer tree
        (d / "time").write_text(f"{int(round(up * 1e9))} 0\n")
    r, doc = replay_ok(hq, b)
    assert doc["window"]["samples"] == 5
    assert doc["window_s"] == pytest.approx(uptimes[-1] - uptimes[0], abs=0.01)
    f = finding(doc, "vcpu-oversubscription")
    # steal is counted since boot in root5 only in the aggregate line: reported, and ~0 per CPU
    assert f["severity"] in ("ok", "unknown"), f
    if f["severity"] == "ok":
        span = uptimes[-1] - uptimes[0]
        for cpu, t in ev_cpu(f, "total_ticks").items():
            # a CPU cannot account more time than the wall clock gave it
            assert 0 < t <= span * 100 * 1.02 + 2, (cpu, t)


def test_sysstat_old_kernel_root_without_steal_column(hq, tmp_path):
    """root6/root7: /proc/stat with 7 columns (before steal existed)."""
    src = need("sysstat-roots")
    b = tmp_path / "b"
    (b / "samples").mkdir(parents=True)
    write_meta(b, 30000)
    for i, name in enumerate(["root6", "root7"]):
        up = float((src / name / "proc" / "uptime").read_text().split()[0])
        d = b / "samples" / f"{i:06d}"
        shutil.copytree(src / name, d, symlinks=True)
        (d / "time").write_text(f"{int(round(up * 1e9))} 0\n")
    r, doc = replay_ok(hq, b)
    if "error" not in doc:
        f = finding(doc, "vcpu-oversubscription")
        assert f["severity"] == "unknown", f
        assert "steal column" in f["title"] or not doc["capabilities"]["steal"]["ok"], f


def test_procfs_fixtures_single_sample_is_unusable(hq, tmp_path):
    src = need("procfs-fixtures")
    b = tmp_path / "b"
    (b / "samples").mkdir(parents=True)
    write_meta(b, 1000)
    d = b / "samples" / "000000"
    shutil.copytree(src, d, symlinks=True)
    (d / "time").write_text("1000000000000 0\n")
    r = run([hq, "diagnose", "--json", "--replay", b])
    assert_unusable(r)
    assert "error" in r.json()


def _bump_procstat(txt, k):
    """Advance every cpu line by k seconds of plausible time (100 ticks/s per CPU)."""
    out = []
    ncpu = len([ln for ln in txt.splitlines() if re.match(r"cpu\d", ln)])
    for ln in txt.splitlines():
        m = re.match(r"(cpu\d*)\s+(.*)", ln)
        if m:
            v = [int(x) for x in m.group(2).split()]
            n = ncpu if m.group(1) == "cpu" else 1
            v[0] += 30 * k * n   # user
            v[3] += 60 * k * n   # idle
            v[7] += 10 * k * n   # steal
            ln = f"{m.group(1)}{' ' if m.group(1) != 'cpu' else '  '}" + " ".join(map(str, v))
        out.append(ln)
    return "\n".join(out) + "\n"


def _bump_psi(txt, k):
    return re.sub(r"total=(\d+)", lambda m: f"total={int(m.group(1)) + k * 50000}", txt)


def test_procfs_fixtures_as_four_samples(hq, tmp_path):
    """The fixture tree four times, 1 s apart, with counters advanced (10 %
    steal, 30 % user on each of its 8 CPUs).  Its symlinks (proc/self,
    proc/26231/root -> /, exe -> /usr/bin/vim) must not be followed."""
    src = need("procfs-fixtures")
    b = tmp_path / "b"
    (b / "samples").mkdir(parents=True)
    write_meta(b, 1000)
    stat = (src / "proc" / "stat").read_text()
    psi = (src / "proc" / "pressure" / "cpu").read_text()
    for k in range(4):
        d = b / "samples" / f"{k:06d}"
        shutil.copytree(src, d, symlinks=True)
        (d / "proc" / "stat").write_text(_bump_procstat(stat, k))
        (d / "proc" / "pressure" / "cpu").write_text(_bump_psi(psi, k))
        (d / "time").write_text(f"{1000000000000 + k * 1000000000} 0\n")
    r, doc = replay_ok(hq, b)
    assert r.returncode in (0, 1, 2), repr(r)
    f = finding(doc, "vcpu-oversubscription")
    avg = ev_cpu(f, "steal_pct_avg")
    assert len(avg) == 8
    for cpu, v in avg.items():
        assert v == pytest.approx(10, abs=0.5), (cpu, v)
    assert f["severity"] == "warn", f
    g = finding(doc, "guest-cpu-saturation")
    psi_avg = [e["value"] for e in g["evidence"] if e["metric"] == "psi_cpu_some_pct_avg"]
    assert psi_avg and psi_avg[0] == pytest.approx(5, abs=0.5), g
