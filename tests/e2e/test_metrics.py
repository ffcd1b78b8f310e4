"""hiddenq metrics: the catalog, the sources, and what a machine or a bundle supplies.

Bundles built here decide what is there: a /proc/stat-only bundle has the CPU
source and nothing else, so every other source is 'no' with a reason; a TCG
identity turns the steal metrics off with the reason the steal rule gives.
The live run checks what this machine can always read.
"""
import json

from conftest import TCG_IDENTITY, const, run, steal_bundle


def metrics_json(hq, *args, code=0):
    r = run([hq, "metrics", "--json", *args], timeout=60)
    assert r.returncode == code, repr(r)
    return r.json()


def by_name(doc, key):
    return {x["name"]: x for x in doc[key]}


def test_catalog_alone(hq):
    doc = metrics_json(hq, "--catalog")
    ms, ss = doc["metrics"], doc["sources"]
    assert doc["summary"] == {"metrics": len(ms), "sources": len(ss)}
    assert len(ms) >= 150 and len(ss) >= 20
    names = [m["name"] for m in ms]
    proms = [m["prometheus"] for m in ms]
    assert len(set(names)) == len(names) and len(set(proms)) == len(proms)
    srcs = {s["name"] for s in ss}
    for m in ms:
        assert m["prometheus"].startswith("hiddenq_") and m["help"] and m["source"] in srcs, m
        assert m["type"] in ("gauge", "counter", "histogram", "info"), m
        assert m["scope"] in ("window", "sample", "config"), m
        assert "available" not in m  # no machine was read
        if m["type"] == "counter":
            assert m["prometheus"].endswith("_total"), m
    # the design's names are there, with their labels
    steal = by_name(doc, "metrics")["steal_pct_avg"]
    assert steal["labels"] == ["cpu"] and steal["unit"] == "ratio" and steal["display_unit"] == "%"
    assert steal["display_scale"] == 100
    assert set(by_name(doc, "metrics")["block_latency"]["labels"]) == {"device", "layer", "op"}
    r = run([hq, "metrics", "--catalog"], timeout=30)
    assert r.returncode == 0 and "the metric catalog" in r.stdout and "hiddenq_cpu_steal_ratio" in r.stdout


def test_procstat_only_bundle(hq, tmp_path):
    b = steal_bundle(tmp_path / "b", [const(12), const(3)], seconds=5)
    doc = metrics_json(hq, "--replay", str(b.root))
    src = by_name(doc, "sources")
    assert src["cpu"]["available"] and src["engine"]["available"]
    assert not src["psi"]["available"] and "CONFIG_PSI" in src["psi"]["reason"]
    assert not src["runqlat"]["available"] and "eBPF" in src["runqlat"]["reason"]
    assert not src["disks"]["available"] and "diskstats" in src["disks"]["reason"]
    m = by_name(doc, "metrics")
    assert m["steal_pct_avg"]["available"] and m["steal_pct_avg"]["quoted"] >= 3  # all, cpu0, cpu1
    assert not m["psi_memory_some_pct"]["available"] and "CONFIG_PSI" in m["psi_memory_some_pct"]["reason"]
    assert doc["summary"]["available"] == sum(x["available"] for x in doc["metrics"])
    assert 4.5 <= doc["window_s"] <= 5.5
    # text: the sources that are down are explained, their metrics summarized unless --all
    r = run([hq, "metrics", "--replay", str(b.root)], timeout=30)
    assert r.returncode == 0 and "why: no /proc/pressure" in r.stdout and "--all lists them" in r.stdout
    r2 = run([hq, "metrics", "--replay", str(b.root), "--all"], timeout=30)
    assert "psi_memory_some_pct" in r2.stdout and "psi_memory_some_pct" not in r.stdout


def test_steal_not_reported_under_tcg(hq, tmp_path):
    b = steal_bundle(tmp_path / "b", [const(0), const(0)], seconds=4, identity=TCG_IDENTITY)
    m = by_name(metrics_json(hq, "--replay", str(b.root)), "metrics")
    for name in ("steal_pct_avg", "steal_seconds_total", "steal_window_ratio"):
        assert not m[name]["available"] and "steal is not reported" in m[name]["reason"], m[name]
    assert m["busy_pct"]["available"]  # the CPU source itself is fine


def test_live(hq):
    doc = metrics_json(hq, "-d", "1s")
    assert doc["source"] == "live" and doc["window_s"] >= 0.9
    src = by_name(doc, "sources")
    for name in ("cpu", "memory", "loadavg", "topology", "identity", "engine"):
        assert src[name]["available"], src[name]
    for s in doc["sources"]:
        assert s["available"] or s["reason"], s


def test_bad_arguments(hq, tmp_path):
    for args, says in ((["--catalog", "--replay", str(tmp_path)], "catalog alone"),
                       (["-d", "500ms"], "at least 1s"), (["--replay", str(tmp_path), "-d", "3s"], "read whole"),
                       (["--replay", "a", "--replay", "b"], "twice"), (["nope"], "unexpected argument"),
                       (["--replay", str(tmp_path / "missing")], "")):
        r = run([hq, "metrics"] + args, timeout=30)
        assert r.returncode == 3 and says in r.stderr, (args, r.stderr)
    r = run([hq, "metrics", "--json", "-d", "500ms"], timeout=30)
    assert r.returncode == 3 and json.loads(r.stdout)["error"]
