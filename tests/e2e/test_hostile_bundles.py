"""Hostile bundles: a bundle is untrusted input (a customer's support upload).

Each case must end in exit 3 with a one-line reason, or a degraded result
with exit 0-2: never a crash (signal, sanitizer report), never a hang (run()
has a timeout), never reading outside the bundle.
"""
import json
import os
from pathlib import Path

import pytest

from conftest import Bundle, T0_NS, assert_unusable, const, diagnose_json, ev_cpu, finding, pct_sane, procstat_text, \
    run, steal_bundle


def replay(hq, d, *extra, codes=(0, 1, 2, 3)):
    r = run([hq, "diagnose", "--json", "--replay", d, *extra])
    assert r.returncode in codes, repr(r)
    doc = r.json()  # always valid JSON on stdout, even for errors
    if not extra:
        other_consumers(hq, d, r.returncode == 3 and "error" in doc)
    return r, doc


def other_consumers(hq, d, unusable_bundle):
    """The engine's other consumers on the same hostile bundle: metrics and watch never crash (run()
    checks), print valid JSON, and give a reason for everything they cannot supply."""
    m = run([hq, "metrics", "--json", "--replay", d])
    assert m.returncode in (0, 3), repr(m)
    doc = m.json()
    if m.returncode == 3:
        assert doc["error"] and "\n" not in doc["error"], doc
    else:
        for x in doc["sources"] + doc["metrics"]:
            assert x["available"] or x["reason"], x
    w = run([hq, "watch", "--json", "--window", "3s", "--replay", d])
    assert w.returncode in (0, 3), repr(w)
    lines = [json.loads(line) for line in w.stdout.splitlines() if line.strip()]
    if w.returncode == 0:
        assert lines and lines[-1]["event"] == "stop", lines[-3:]
    else:
        assert lines and "error" in lines[-1], w.stdout
    r = run([hq, "report", "--json", d])
    assert r.returncode in (0, 3), repr(r)
    doc = r.json()
    if r.returncode == 3:
        assert doc["error"] and "\n" not in doc["error"], doc
    else:
        assert doc["samples"] >= 1 and all(p["has_data"] or p["why"] for p in doc["plots"]), doc


def unusable(hq, d):
    r, doc = replay(hq, d, codes=(3,))
    assert_unusable(r)
    assert isinstance(doc.get("error"), str) and doc["error"] and "\n" not in doc["error"], doc
    return r, doc


def good(tmp_path, name="b", seconds=4, steal=25):
    return steal_bundle(tmp_path / name, [const(steal), const(steal)], seconds=seconds)


def findings_only(doc):
    return [(f["id"], f["severity"], f["title"], f["evidence"]) for f in doc["findings"]]


# ---------------------------------------------------------------- meta.json

def test_no_meta_json(hq, tmp_path):
    b = good(tmp_path)
    (b.root / "meta.json").unlink()
    r, doc = unusable(hq, b.root)
    assert "meta.json" in doc["error"]


@pytest.mark.parametrize("content", [b"{ not json", b"\x00\xff\xfe garbage", b"[1, 2, 3]", b'"a string"',
                                     b'{"format": "something-else/1", "interval_ms": 100}',
                                     b'{"format": 17}', b'{"format": "hiddenq-capture/10"}', b""],
                         ids=["garbage", "binary", "array", "string", "wrong-format", "format-number",
                              "format-prefix", "empty"])
def test_bad_meta_json(hq, tmp_path, content):
    b = good(tmp_path)
    (b.root / "meta.json").write_bytes(content)
    unusable(hq, b.root)


def test_huge_meta_json(hq, tmp_path):
    b = good(tmp_path)
    big = {"format": "hiddenq-capture/1", "interval_ms": 100, "pad": "x" * (10 << 20)}
    (b.root / "meta.json").write_text(json.dumps(big))
    r, doc = unusable(hq, b.root)
    assert "larger" in doc["error"] or "MiB" in doc["error"], doc


def test_meta_json_is_a_directory(hq, tmp_path):
    b = good(tmp_path)
    (b.root / "meta.json").unlink()
    (b.root / "meta.json").mkdir()
    unusable(hq, b.root)


def test_meta_json_is_a_fifo(hq, tmp_path):
    b = good(tmp_path)
    (b.root / "meta.json").unlink()
    os.mkfifo(b.root / "meta.json")
    unusable(hq, b.root)


def test_meta_json_symlink_outside_is_refused(hq, tmp_path):
    b = good(tmp_path)
    outside = tmp_path / "outside-meta.json"
    outside.write_text((b.root / "meta.json").read_text())
    (b.root / "meta.json").unlink()
    (b.root / "meta.json").symlink_to(outside)
    unusable(hq, b.root)


def test_meta_static_list_with_dotdot_and_junk(hq, tmp_path):
    """meta.json is data: "static" entries with .. or absolute paths must not
    make the reader look anywhere, and odd types must not crash it."""
    b = good(tmp_path)
    m = json.loads((b.root / "meta.json").read_text())
    m["static"] = ["../../../etc/passwd", "/etc/shadow", 7, None, {"a": 1}, ".hiddenq/identity.json"]
    m["interval_ms"] = -5
    (b.root / "meta.json").write_text(json.dumps(m))
    r, doc = replay(hq, b.root, codes=(2,))
    assert finding(doc, "vcpu-oversubscription")["severity"] == "crit"
    assert "root:x:0" not in r.stdout  # /etc/passwd content


# ---------------------------------------------------------------- samples/

def test_no_samples_dir(hq, tmp_path):
    b = good(tmp_path)
    os.rename(b.samples, tmp_path / "elsewhere")
    r, doc = unusable(hq, b.root)
    assert "samples" in doc["error"]


def test_samples_empty(hq, tmp_path):
    b = Bundle(tmp_path / "b")
    unusable(hq, b.root)


def test_samples_is_a_file(hq, tmp_path):
    b = Bundle(tmp_path / "b")
    b.samples.rmdir()
    b.samples.write_text("not a directory")
    unusable(hq, b.root)


def test_samples_symlink_to_real_bundle_is_refused(hq, tmp_path):
    real = good(tmp_path, "real")
    b = Bundle(tmp_path / "b")
    b.samples.rmdir()
    b.samples.symlink_to(real.samples)
    unusable(hq, b.root)


def test_bundle_path_given_through_a_symlink(hq, tmp_path):
    """The path on the command line is the user's: a symlink to a bundle (a "latest" link, a
    bundle unpacked elsewhere) is followed like any path they type.  Only what is inside the
    bundle is confined (issue 16, item 4)."""
    real = good(tmp_path, "real")
    link = tmp_path / "latest"
    link.symlink_to(real.root)
    r, doc = replay(hq, link, codes=(0, 1, 2))
    r2, doc2 = replay(hq, real.root, codes=(0, 1, 2))
    assert findings_only(doc) == findings_only(doc2)
    assert r.returncode == r2.returncode
    # a relative link, and a link to a link
    (tmp_path / "rel").symlink_to("real")
    (tmp_path / "twice").symlink_to(link)
    for p in (tmp_path / "rel", tmp_path / "twice"):
        r3, doc3 = replay(hq, p, codes=(0, 1, 2))
        assert findings_only(doc3) == findings_only(doc2)
    for cmd in (["topo", "--json"], ["vms", "--json"]):
        t = run([hq, *cmd, "--replay", link])
        # this synthetic bundle has no topology and no VMs: they may refuse it, for what it lacks
        assert "cannot open bundle" not in t.json().get("error", ""), t


def test_single_sample(hq, tmp_path):
    b = good(tmp_path, seconds=0)
    assert b.n == 1
    unusable(hq, b.root)


def test_non_sample_names_ignored(hq, tmp_path):
    b = good(tmp_path)
    (b.samples / "README").write_text("hello")
    (b.samples / "000001.tmp").mkdir()  # an interrupted write
    (b.samples / "abcdef").mkdir()
    r, doc = replay(hq, b.root, codes=(2,))
    assert doc["window"]["samples"] == b.n


# ---------------------------------------------------------------- time files

def test_time_missing_in_some_samples_skips_them(hq, tmp_path):
    b = good(tmp_path, seconds=5)
    for i in (3, 17):
        (b.sample_dir(i) / "time").unlink()
    r, doc = replay(hq, b.root, codes=(2,))
    assert doc["window"]["samples"] == b.n - 2
    assert "skipped" in r.stderr
    # the steal is still measured over the whole span: deltas bridge the gap
    assert ev_cpu(finding(doc, "vcpu-oversubscription"), "steal_ticks") == {0: 125, 1: 125}


@pytest.mark.parametrize("text", ["garbage", "", "-5 3", "18446744073709551616 0", "1 2 3 4", "\x00\x01",
                                  "99999999999999999999999999999", " \n"])
def test_time_garbage_in_some_samples(hq, tmp_path, text):
    b = good(tmp_path, seconds=5)
    for i in (2, 30):
        (b.sample_dir(i) / "time").write_text(text)
    r, doc = replay(hq, b.root, codes=(2,))
    assert doc["window"]["samples"] == b.n - 2, doc["window"]


def test_time_garbage_everywhere_is_unusable(hq, tmp_path):
    b = good(tmp_path, seconds=3)
    for i in range(b.n):
        (b.sample_dir(i) / "time").write_text("nope")
    unusable(hq, b.root)


def test_time_is_a_directory_or_fifo(hq, tmp_path):
    b = good(tmp_path, seconds=4)
    (b.sample_dir(5) / "time").unlink()
    (b.sample_dir(5) / "time").mkdir()
    (b.sample_dir(6) / "time").unlink()
    os.mkfifo(b.sample_dir(6) / "time")
    r, doc = replay(hq, b.root, codes=(2,))
    assert doc["window"]["samples"] == b.n - 2


def test_time_decreasing(hq, tmp_path):
    b = good(tmp_path, seconds=4)
    # sample 10 claims to be earlier than sample 9: it is skipped
    (b.sample_dir(10) / "time").write_text(f"{T0_NS + 5} 0\n")
    r, doc = replay(hq, b.root, codes=(2,))
    assert doc["window"]["samples"] == b.n - 1
    assert "backwards" in r.stderr


def test_time_all_equal(hq, tmp_path):
    b = good(tmp_path, seconds=3)
    for i in range(b.n):
        (b.sample_dir(i) / "time").write_text(f"{T0_NS} 0\n")
    unusable(hq, b.root)


# ---------------------------------------------------------------- proc/stat

@pytest.mark.parametrize("kind", ["garbage", "truncated", "empty", "binary"])
def test_procstat_bad_in_some_samples_degrades(hq, tmp_path, kind):
    b = good(tmp_path, seconds=5)
    for i in (4, 25, 26):
        p = b.sample_dir(i) / "proc/stat"
        t = p.read_text()
        p.write_bytes({"garbage": b"hello world\ncpu0 a b c\n", "truncated": t[:37].encode(), "empty": b"",
                       "binary": os.urandom(3000)}[kind])
    r, doc = replay(hq, b.root, codes=(1, 2))
    f = finding(doc, "vcpu-oversubscription")
    assert f["severity"] in ("warn", "crit")
    pct_sane(doc)
    # steal stays 25 %: dropped samples are bridged, not counted as zero
    for v in ev_cpu(f, "steal_pct_avg").values():
        assert v == pytest.approx(25, abs=1.5)
    assert "proc/stat" in r.stderr, f"no warning about unparsable /proc/stat: {r.stderr!r}"


def test_procstat_huge_numbers(hq, tmp_path):
    b = Bundle(tmp_path / "b")
    m = 2 ** 64 - 1
    for k in range(41):
        cpus = [{"user": m - 1000 + k, "system": m, "idle": m, "iowait": m, "irq": m, "softirq": m,
                 "steal": m - 500 + k, "guest": m, "guest_nice": m} for _ in range(2)]
        b.add(T0_NS + k * 100_000_000, {"proc/stat": procstat_text(cpus, running=m)})
    r, doc = replay(hq, b.root)
    if r.returncode != 3:
        pct_sane(doc)


def test_procstat_counters_wrapping_and_jumping(hq, tmp_path):
    b = Bundle(tmp_path / "b")
    m = 2 ** 64 - 1
    vals = [5, m - 3, 2, m, 0, 10 ** 19, 7] * 6
    for k, v in enumerate(vals):
        cpus = [{"user": v, "idle": k * 10, "steal": (v // 3)} for _ in range(2)]
        b.add(T0_NS + k * 100_000_000, {"proc/stat": procstat_text(cpus)})
    r, doc = replay(hq, b.root)
    if r.returncode != 3:
        pct_sane(doc)


def test_procstat_many_cpus_and_odd_ids(hq, tmp_path):
    b = Bundle(tmp_path / "b")
    for k in range(41):
        lines = ["cpu  1 2 3 4 5 6 7 8 9 10"]
        for c in (0, 7, 4095, 2147483647, 99999999999, -1):
            lines.append(f"cpu{c} {k * 5} 0 0 {k * 4} 0 0 0 {k} 0 0")
        b.add(T0_NS + k * 100_000_000, {"proc/stat": "\n".join(lines) + "\n"})
    r, doc = replay(hq, b.root)
    if r.returncode != 3:
        pct_sane(doc)


# ---------------------------------------------------------------- links, fifos, special files

def _stat_with_steal(path, steal):
    cpus = [{"user": 10 ** 6, "idle": 10 ** 6, "steal": steal} for _ in range(2)]
    path.write_text(procstat_text(cpus))


def test_symlinked_procstat_is_not_read(hq, tmp_path):
    """samples/000011/proc/stat -> a file outside with distinctive content
    (enormous steal).  The sample must behave as if it had no proc/stat."""
    b = good(tmp_path, seconds=4, steal=0)
    ref = good(tmp_path, "ref", seconds=4, steal=0)
    outside = tmp_path / "outside-stat"
    _stat_with_steal(outside, 10 ** 9)
    for bb in (b, ref):
        (bb.sample_dir(11) / "proc/stat").unlink()
    (b.sample_dir(11) / "proc/stat").symlink_to(outside)
    r, doc = replay(hq, b.root, codes=(0,))
    r2, doc2 = replay(hq, ref.root, codes=(0,))
    f = finding(doc, "vcpu-oversubscription")
    assert ev_cpu(f, "steal_ticks") == {0: 0, 1: 0}, "the symlinked file outside the bundle was read"
    assert findings_only(doc) == findings_only(doc2)


def test_symlink_to_live_proc_stat_is_not_read(hq, tmp_path):
    b = good(tmp_path, seconds=4, steal=0)
    (b.sample_dir(1) / "proc/stat").unlink()
    (b.sample_dir(1) / "proc/stat").symlink_to("/proc/stat")
    r, doc = replay(hq, b.root, codes=(0,))
    f = finding(doc, "vcpu-oversubscription")
    # the live /proc/stat has far more ticks than the synthetic 10 per interval
    assert ev_cpu(f, "total_ticks") == {0: 400, 1: 400}


def test_symlinked_proc_dir_is_not_followed(hq, tmp_path):
    b = good(tmp_path, seconds=4, steal=0)
    od = tmp_path / "outside-proc"
    od.mkdir()
    _stat_with_steal(od / "stat", 10 ** 9)
    d = b.sample_dir(12) / "proc"
    (d / "stat").unlink()
    d.rmdir()
    d.symlink_to(od)
    r, doc = replay(hq, b.root, codes=(0,))
    assert ev_cpu(finding(doc, "vcpu-oversubscription"), "steal_ticks") == {0: 0, 1: 0}


def test_symlinked_sample_directory_is_skipped(hq, tmp_path):
    b = good(tmp_path, seconds=4, steal=0)
    n = b.n
    # a sample directory that is a symlink to a directory outside, with a
    # later time and enormous steal: must be skipped, not read
    out = tmp_path / "outside-sample"
    (out / "proc").mkdir(parents=True)
    (out / "time").write_text(f"{T0_NS + 10 * 10 ** 9} 0\n")
    _stat_with_steal(out / "proc/stat", 10 ** 9)
    (b.samples / f"{n:06d}").symlink_to(out)
    r, doc = replay(hq, b.root, codes=(0,))
    assert doc["window"]["samples"] == n
    assert ev_cpu(finding(doc, "vcpu-oversubscription"), "steal_ticks") == {0: 0, 1: 0}


def test_fifo_as_procstat_does_not_hang(hq, tmp_path):
    b = good(tmp_path, seconds=4)
    for i in (3, 20):
        p = b.sample_dir(i) / "proc/stat"
        p.unlink()
        os.mkfifo(p)
    r, doc = replay(hq, b.root, codes=(2,))
    assert r.elapsed < 20


def test_fifo_and_socket_elsewhere_in_sample(hq, tmp_path):
    import socket
    b = good(tmp_path, seconds=4)
    os.mkfifo(b.sample_dir(0) / ".hiddenq" / "ebpf.json")
    os.mkfifo(b.sample_dir(2) / "proc/pressure-cpu")
    s = socket.socket(socket.AF_UNIX)
    sock_path = b.sample_dir(3) / "proc/sock"
    try:
        s.bind(str(sock_path))
        replay(hq, b.root, codes=(2,))
    finally:
        s.close()


def test_unreadable_procstat(hq, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads mode-000 files anyway")
    b = good(tmp_path, seconds=4)
    (b.sample_dir(3) / "proc/stat").chmod(0)
    replay(hq, b.root, codes=(2,))


def test_deep_nesting(hq, tmp_path):
    b = good(tmp_path, seconds=4)
    d = b.sample_dir(5)
    for i in range(200):
        d = d / "d"
    os.makedirs(d)
    (d / "stat").write_text("cpu  1 2 3\n")
    r, doc = replay(hq, b.root, codes=(2,))
    assert doc["window"]["samples"] == b.n


def test_many_files_in_one_sample(hq, tmp_path):
    b = good(tmp_path, seconds=4)
    d = b.sample_dir(7) / "proc" / "junk"
    d.mkdir()
    for i in range(3000):
        (d / f"f{i}").write_text("x")
    replay(hq, b.root, codes=(2,))


def test_dotdot_like_names(hq, tmp_path):
    """Names that contain dots are just names; ".." itself cannot be a file."""
    b = good(tmp_path, seconds=4)
    d = b.sample_dir(4)
    for name in ("...", "..stat", "stat..", ". .", "..\\..", ".hiddenq/.."):
        p = d / "proc" / name.replace("/", "_")
        p.write_text("cpu  99999999 0 0 0 0 0 0 99999999 0 0\n")
    (d / "proc" / "sub..dir").mkdir()
    (d / "proc" / "sub..dir" / "stat").write_text("cpu  1\n")
    r, doc = replay(hq, b.root, codes=(2,))
    assert ev_cpu(finding(doc, "vcpu-oversubscription"), "steal_ticks") == {0: 100, 1: 100}


def test_replay_path_with_dotdot(hq, tmp_path):
    b = good(tmp_path, seconds=4)
    (tmp_path / "x").mkdir()
    r, doc = replay(hq, str(tmp_path / "x" / ".." / "b"), codes=(2,))


def test_replay_target_missing_or_file(hq, tmp_path):
    unusable(hq, tmp_path / "does-not-exist")
    f = tmp_path / "file"
    f.write_text("{}")
    unusable(hq, f)


def test_huge_procstat_file(hq, tmp_path):
    b = good(tmp_path, seconds=4)
    p = b.sample_dir(6) / "proc/stat"
    with open(p, "ab") as fh:
        fh.write(b"intr " + b"0 " * (10 << 20) + b"\n")
    r, doc = replay(hq, b.root, codes=(1, 2))


def test_huge_procstat_over_limit(hq, tmp_path):
    """A file over the per-file limit is not read (or read in part):
    either way, no crash and a result."""
    b = good(tmp_path, seconds=4)
    p = b.sample_dir(6) / "proc/stat"
    with open(p, "ab") as fh:
        fh.truncate(40 << 20)  # sparse, 40 MiB
    r, doc = replay(hq, b.root, codes=(1, 2))


# ---------------------------------------------------------------- non-UTF-8

def test_non_utf8_cgroup_paths_and_task_comm(hq, tmp_path):
    bad = b"\xff\xfe\xc3(bad\x01\x7f"

    def extra(k):
        return {
            os.fsdecode(b"sys/fs/cgroup/unified/" + bad + b"/cpu.stat"):
                f"usage_usec {k * 1000}\nuser_usec 0\nsystem_usec 0\nnr_periods {k * 10}\n"
                f"nr_throttled {k * 8}\nthrottled_usec {k * 50000}\n",
            os.fsdecode(b"sys/fs/cgroup/unified/" + bad + b"/cpu.max"): "50000 100000\n",
            os.fsdecode(b"sys/fs/cgroup/cpu/" + bad + b"\xe2\x82/cpu.stat"):
                f"nr_periods {k * 10}\nnr_throttled {k * 9}\nthrottled_time {k * 90000000}\n",
            "proc/77/task/77/schedstat": f"{k * 1000000} {k * 9000000} {k}\n",
            "proc/77/task/77/comm": b"\xc3\x28hog\xff\xfe\n",
            "proc/78/task/79/schedstat": f"{k * 1000000} {k * 8000000} {k}\n",
            "proc/78/task/79/comm": b"\xe2\x82\xac\xe2\x82ab\xf0\x9f\x98\n",
            "proc/pressure/cpu": f"some avg10=1.00 avg60=1.00 avg300=1.00 total={k * 60000}\n"
                                 f"full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        }
    b = steal_bundle(tmp_path / "b", [const(0), const(0)], seconds=5, extra_files=extra)
    r, doc = replay(hq, b.root, codes=(1, 2))  # strict UTF-8 + JSON decode inside
    cg = finding(doc, "cgroup-cpu-throttling")
    assert cg["severity"] == "crit", cg
    subjects = [e.get("subject") for e in cg["evidence"] if e.get("subject")]
    assert subjects, cg
    gc = finding(doc, "guest-cpu-saturation")
    tasks = [e.get("subject") for e in gc["evidence"] if e["metric"] == "task_runq_wait_ms"]
    assert len(tasks) == 2, gc
    # the text report must cope too
    rt = run([hq, "diagnose", "--replay", b.root])
    assert rt.returncode in (1, 2)
