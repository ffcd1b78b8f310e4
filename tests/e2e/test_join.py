"""hiddenq join GUEST HOST on synthesized bundles.

The real-parts run (a TCG guest beside this machine: tests/vm/test_join_vm.py)
cannot show the disagreements the join exists to explain: TCG reports no
steal, and no CPU cap can be set below this machine's own hypervisor.  So
these bundles are synthesized, and say so: a KVM guest whose vCPU 0 loses
20 % to steal while its host counted 5 % run delay for that vCPU's thread
(a cap below the host, seen as steal but not as run delay), vCPU 1 agreeing
at 5 %; then the host as a guest itself; then the ways a join can fail
(no VM with the guest's UUID, no common time, bad arguments), each with
exit 3 and one reason.
"""
import json

from conftest import KVM_IDENTITY, T0_NS, TCG_IDENTITY, Bundle, assert_unusable, const, run, steal_bundle

UUID = "5e1f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
INTERVAL_MS = 100
SECONDS = 3


def guest_bundle(root, steal=(20, 5), uuid=UUID, identity=KVM_IDENTITY):
    """A KVM guest with per-vCPU steal, its SMBIOS UUID a static of sample 0."""
    b = steal_bundle(root, [const(p) for p in steal], seconds=SECONDS, interval_ms=INTERVAL_MS,
                     ticks_per_interval=10, identity=identity,
                     extra_files=lambda k: {"sys/class/dmi/id/product_uuid": uuid.upper() + "\n"} if k == 0 else {})
    meta = json.loads((b.root / "meta.json").read_text())
    meta["static"].append("sys/class/dmi/id/product_uuid")
    (b.root / "meta.json").write_text(json.dumps(meta))
    return b


def host_bundle(root, delay=(5, 5), uuid=UUID, t0=T0_NS, host_steal=None):
    """A host running one QEMU VM (PID 100, vCPU threads 101 and 102) whose
    vCPU threads wait delay[i] % of each interval; the host's own /proc/stat
    shows host_steal % when given (the host is a guest too)."""
    b = Bundle(root, interval_ms=INTERVAL_MS, identity=KVM_IDENTITY if host_steal is not None else None)
    vms = {"root": True, "vms": [{"pid": 100, "vmm": "qemu", "name": "web", "name_source": "cmdline", "uuid": uuid,
                                  "threads": [{"tid": 101 + i, "kind": "vcpu", "vcpu": i, "comm": f"CPU {i}/KVM"}
                                              for i in range(len(delay))]}]}
    step = INTERVAL_MS * 1_000_000
    for k in range(int(SECONDS * 1000 / INTERVAL_MS) + 1):
        files = {".hiddenq/vms.json": json.dumps(vms)}
        for i, d in enumerate(delay):
            run_ns, delay_ns = k * step * (100 - d) // 200, k * step * d // 100
            files[f"proc/100/task/{101 + i}/schedstat"] = f"{10**9 + run_ns} {delay_ns} {1000 + k}\n"
        if host_steal is not None:
            t = k * 10
            st = t * host_steal // 100
            files["proc/stat"] = (f"cpu  {10000 + t - st} 0 0 90000 0 0 0 {st} 0 0\n"
                                  f"cpu0 {10000 + t - st} 0 0 90000 0 0 0 {st} 0 0\n")
        b.add(t0 + k * step, files)
    return b


def join(hq, g, h, *args):
    return run([hq, "join", *args, str(g.root), str(h.root)], timeout=60)


def test_steal_beside_run_delay_and_why_they_disagree(hq, tmp_path):
    g, h = guest_bundle(tmp_path / "g"), host_bundle(tmp_path / "h")
    r = join(hq, g, h, "--json")
    assert r.returncode == 0, repr(r)
    doc = json.loads(r.stdout)
    assert doc["matched"] and doc["matched_by"] == "system UUID" and doc["key"] == UUID, doc
    assert doc["host"]["vm"] == "web" and doc["host"]["pid"] == 100 and doc["guest"]["steal_reported"], doc
    assert 2.5 <= doc["overlap_s"] <= SECONDS, doc
    v = {x["vcpu"]: x for x in doc["vcpus"]}
    assert sorted(v) == [0, 1], doc["vcpus"]
    assert abs(v[0]["guest_steal_pct"] - 20) < 1 and abs(v[0]["host_delay_pct"] - 5) < 1, v[0]
    assert v[0]["verdict"] == "steal above delay" and "CPU cap" in v[0]["why"], v[0]
    assert abs(v[0]["difference_points"] - 15) < 1.5, v[0]
    assert v[1]["verdict"] == "agree", v[1]
    assert doc["disks"]["guest_await_ms"] is None and "no request" in doc["disks"]["why"], doc["disks"]
    t = join(hq, g, h)
    assert t.returncode == 0, repr(t)
    assert "matched by system UUID " + UUID in t.stdout and "steal above delay" in t.stdout, t.stdout
    assert "CPU cap" in t.stdout, t.stdout


def test_recordings_join_like_bundles(hq, tmp_path):
    """GUEST and HOST may be recordings (hiddenq record), either or both."""
    g, h = guest_bundle(tmp_path / "g"), host_bundle(tmp_path / "h")
    for b, f in ((g, tmp_path / "g.hqrec"), (h, tmp_path / "h.hqrec")):
        r = run([hq, "record", "-q", "--from-bundle", str(b.root), "-o", str(f)], timeout=60)
        assert r.returncode == 0, repr(r)
    for gp, hp in ((tmp_path / "g.hqrec", h.root), (tmp_path / "g.hqrec", tmp_path / "h.hqrec")):
        r = run([hq, "join", "--json", str(gp), str(hp)], timeout=60)
        assert r.returncode == 0, repr(r)
        doc = json.loads(r.stdout)
        assert doc["key"] == UUID and [v["verdict"] for v in doc["vcpus"]] == ["steal above delay", "agree"], doc


def test_a_guest_without_steal_and_a_vcpu_without_its_thread(hq, tmp_path):
    """TCG: no steal clock, so the host's run delay is the only view; the
    host knows a thread for vCPU 0 only (the other unnamed, say)."""
    g = guest_bundle(tmp_path / "g", steal=(0, 0), identity=TCG_IDENTITY)
    h = host_bundle(tmp_path / "h", delay=(30,))
    doc = json.loads(join(hq, g, h, "--json").stdout)
    assert doc["guest"]["steal_reported"] is False, doc
    v = {x["vcpu"]: x for x in doc["vcpus"]}
    assert v[0]["verdict"] == "no steal reported" and abs(v[0]["host_delay_pct"] - 30) < 1, v[0]
    assert "only view" in v[0]["why"], v[0]
    assert v[1]["verdict"] == "no host thread" and "no steal figure" in v[1]["why"], v[1]


def test_a_host_that_is_itself_a_guest(hq, tmp_path):
    g, h = guest_bundle(tmp_path / "g"), host_bundle(tmp_path / "h", host_steal=15)
    doc = json.loads(join(hq, g, h, "--json").stdout)
    assert abs(doc["host"]["host_steal_pct"] - 15) < 1.5, doc["host"]
    v0 = doc["vcpus"][0]
    assert v0["verdict"] == "steal above delay" and "itself a guest" in v0["why"], v0


def test_not_joined_says_why(hq, tmp_path):
    g = guest_bundle(tmp_path / "g")
    other = host_bundle(tmp_path / "other", uuid="11111111-2222-3333-4444-555555555555")
    r = join(hq, g, other, "--json")
    assert r.returncode == 3, repr(r)
    doc = json.loads(r.stdout)
    assert doc["matched"] is False and UUID in doc["error"] and "11111111-2222" in doc["error"], doc
    r = join(hq, g, other)
    assert_unusable(r)
    assert "no VM on the host matches" in r.stderr, r.stderr
    # the same VM, but an hour later: nothing to compare
    later = host_bundle(tmp_path / "later", t0=T0_NS + 3600 * 10**9)
    r = join(hq, g, later)
    assert_unusable(r)
    assert "do not cover the same time" in r.stderr, r.stderr


def test_arguments(hq, tmp_path):
    r = run([hq, "join", "--help"], timeout=30)
    assert r.returncode == 0 and "Usage: hiddenq join" in r.stdout and "Exit status" in r.stdout, repr(r)
    assert_unusable(run([hq, "join", str(tmp_path)], timeout=30))
    assert_unusable(run([hq, "join", "--bogus", "a", "b"], timeout=30))
    r = run([hq, "join", "--json", str(tmp_path / "nope"), str(tmp_path / "nope2")], timeout=30)
    assert r.returncode == 3 and "error" in json.loads(r.stdout), repr(r)
