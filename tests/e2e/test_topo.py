"""hiddenq topo and hiddenq fit on this machine.

`topo --json` must agree with /sys (read here directly) and with lscpu's
counts; `fit` must give the classic vNUMA answer (2 sockets x 10 cores,
128 GiB per node: 8 vCPUs with 192 GiB need 2 sockets x 4 cores and 96 GiB
per vNUMA node); bad arguments exit 3 with a reason.  A capture bundle of
this machine replays to the same topology.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import assert_unusable, run

SYS_CPU = Path("/sys/devices/system/cpu")
SYS_NODE = Path("/sys/devices/system/node")


def cpulist(s):
    out = set()
    for part in s.strip().split(","):
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-")
            out.update(range(int(a), int(b) + 1))
        else:
            out.add(int(part))
    return out


def sys_model():
    """Sockets, cores, threads and nodes straight from sysfs."""
    online = cpulist((SYS_CPU / "online").read_text())
    pkgs, cores, sib = set(), set(), {}
    for c in online:
        t = SYS_CPU / f"cpu{c}" / "topology"
        pkg = int((t / "physical_package_id").read_text())
        die = int((t / "die_id").read_text()) if (t / "die_id").exists() else 0
        core = int((t / "core_id").read_text())
        pkgs.add(pkg)
        cores.add((pkg, die, core))
        sib[c] = cpulist((t / "thread_siblings_list").read_text()) & online
    nodes = {}
    for d in sorted(SYS_NODE.glob("node[0-9]*"), key=lambda p: int(p.name[4:])):
        m = re.search(r"MemTotal:\s+(\d+) kB", (d / "meminfo").read_text())
        nodes[int(d.name[4:])] = {
            "cpus": cpulist((d / "cpulist").read_text()),
            "distances": [int(x) for x in (d / "distance").read_text().split()],
            "mem_kib": int(m.group(1)),
        }
    return online, pkgs, cores, max(len(s) for s in sib.values()), nodes


def topo_json(hq, *args):
    r = run([hq, "topo", "--json", *args])
    assert r.returncode == 0, repr(r)
    return r.json()


@pytest.mark.skipif(not (SYS_CPU / "online").exists(), reason="no /sys/devices/system/cpu here")
def test_topo_matches_sysfs(hq):
    doc = topo_json(hq)
    online, pkgs, cores, tpc, nodes = sys_model()
    s = doc["summary"]
    assert s["cpus_online"] == len(online)
    assert s["sockets"] == len(pkgs)
    assert s["cores"] == len(cores)
    assert s["threads_per_core"] == tpc
    assert doc["cpu_source"] == "sysfs"
    if nodes:
        assert s["nodes"] == len(nodes)
        for n in doc["nodes"]:
            want = nodes[n["id"]]
            assert set(n["cpu_list"]) == want["cpus"]
            assert cpulist(n["cpus"]) == want["cpus"]
            assert n["distances"] == want["distances"]
            # the node's own MemTotal as read (it may still be growing: compare loosely, it only grows) ...
            assert 0 < n["mem_node_kib"] <= want["mem_kib"]
        # ... and the figure that sizes it: the node's own, or /proc/meminfo's when the nodes' fall short
        total = int(re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text()).group(1))
        own = sum(v["mem_kib"] for v in nodes.values())
        if own >= total - total // 100:
            assert doc["node_mem_source"] == "nodeN/meminfo MemTotal", doc["node_mem_source"]
        else:
            assert "lazily" in doc["node_mem_note"], doc
            assert sum(n["mem_total_kib"] for n in doc["nodes"]) == pytest.approx(total, rel=0.001)
    # every online CPU sits in exactly one cell of the cpu_layout table
    cells = [c for row in doc["layout"]["cells"] for cell in row for c in cell]
    assert sorted(cells) == sorted(online)
    # caches: sizes as sysfs says, every group a CPU list
    for c in doc["caches"]:
        assert c["size_kib"] > 0 and c["shared_by"]
    assert doc["warnings"] == []


@pytest.mark.skipif(shutil.which("lscpu") is None, reason="lscpu (util-linux) not installed")
def test_topo_counts_match_lscpu(hq):
    doc = topo_json(hq)
    out = subprocess.run(["lscpu", "-J"], capture_output=True, text=True, timeout=30, check=True).stdout
    import json
    kv = {e["field"].rstrip(":"): e["data"] for e in json.loads(out)["lscpu"]}
    s = doc["summary"]
    assert int(kv["Socket(s)"]) == s["sockets"]
    assert int(kv["Core(s) per socket"]) == s["cores_per_socket"]
    assert int(kv["Thread(s) per core"]) == s["threads_per_core"]
    if "NUMA node(s)" in kv:
        assert int(kv["NUMA node(s)"]) == s["nodes"]
    assert len(cpulist(kv["On-line CPU(s) list"])) == s["cpus_online"]


def test_topo_text_has_every_section(hq):
    r = run([hq, "topo"])
    assert r.returncode == 0, repr(r)
    for needle in ("vNUMA:", " socket", "NUMA nodes", "CPU layout", "Socket ", "Core ", "Caches",
                   "Offline CPUs:", "Devices"):
        assert needle in r.stdout, needle
    assert not any(line.endswith(" ") for line in r.stdout.splitlines())


def test_topo_replays_from_a_capture(hq, tmp_path):
    b = tmp_path / "b"
    r = run([hq, "capture", "-o", b, "-n", "2", "-i", "100ms", "-q", "--no-tasks"])
    assert r.returncode == 0, repr(r)
    assert (b / "samples/000000/sys/devices/system/cpu/cpu0/topology/core_id").is_file()
    live = topo_json(hq, "--no-hwloc")
    rep = topo_json(hq, "--replay", b)
    for k in ("summary", "cpus", "nodes", "layout", "caches", "offline", "devices", "vnuma"):
        assert rep[k] == live[k], k
    assert rep["hypervisor"]["signature"] == live["hypervisor"]["signature"]


def test_fit_classic_memory_dimension(hq):
    r = run([hq, "fit", "--sockets", "2", "--cores-per-socket", "10", "--threads-per-core", "1",
             "--mem-per-node", "128G", "--vcpus", "8", "--mem", "192G", "--json"])
    assert r.returncode == 0, repr(r)
    doc = r.json()
    assert doc["verdict"] == "split" and doc["fits"] and not doc["fits_one_node"]
    assert doc["cpus_fit_one_node"] is True
    assert doc["shape"] == {"sockets": 2, "dies": 1, "cores": 4, "threads": 1}
    assert [c["mem_mib"] for c in doc["vnuma"]] == [96 * 1024, 96 * 1024]
    assert [c["cpus"] for c in doc["vnuma"]] == ["0-3", "4-7"]
    assert "memory is a dimension too" in doc["reason"]
    assert "<topology sockets='2' dies='1' cores='4' threads='1'/>" in doc["libvirt"]
    assert "-smp 8,sockets=2,cores=4,threads=1" in doc["qemu"]
    assert doc["exit"] == 0


def test_fit_classic_one_node_without_headroom(hq):
    r = run([hq, "fit", "--sockets", "2", "--cores-per-socket", "10", "--mem-per-node", "128G",
             "--vcpus", "8", "--mem", "128G"])
    assert r.returncode == 1, repr(r)
    assert "fits in one NUMA node" in r.stdout
    assert "leaves no headroom for the host" in r.stdout
    assert "<numatune>" in r.stdout and "-numa node,nodeid=0,cpus=0-7,memdev=m0" in r.stdout


def test_fit_larger_than_host(hq):
    r = run([hq, "fit", "--sockets", "2", "--cores-per-socket", "10", "--mem-per-node", "128G",
             "--vcpus", "48", "--mem", "64G", "--json"])
    assert r.returncode == 2, repr(r)
    doc = r.json()
    assert doc["verdict"] == "does-not-fit" and not doc["fits"]
    assert "48 vCPUs > 20 hardware threads" in doc["reason"]


def test_fit_on_this_machine(hq):
    """The live topology as the host: a 1-vCPU, 64 MiB VM fits one node."""
    r = run([hq, "fit", "--vcpus", "1", "--mem", "64M", "--json"])
    assert r.returncode in (0, 1), repr(r)
    doc = r.json()
    assert doc["host"]["source"] == "live"
    assert doc["fits_one_node"] is True
    assert doc["host"]["nodes"] == topo_json(hq)["summary"]["nodes"]


@pytest.mark.parametrize("args", [
    ["--vcpus", "0", "--mem", "8G"],
    ["--vcpus", "8"],
    ["--vcpus", "8", "--mem", "12X"],
    ["--vcpus", "8", "--mem", "8G", "--sockets", "2"],
    ["--vcpus", "8", "--mem", "8G", "--sockets", "0", "--cores-per-socket", "4", "--mem-per-node", "8G"],
    ["--vcpus", "8", "--mem", "8G", "--sockets", "1", "--cores-per-socket", "2", "--nodes", "4",
     "--mem-per-node", "8G"],
    ["--vcpus", "x", "--mem", "8G"],
    ["--bogus"],
    ["--vcpus", "2", "--mem", "1G", "extra"],
])
def test_fit_bad_arguments(hq, args):
    r = run([hq, "fit", *args])
    assert_unusable(r)
    rj = run([hq, "fit", "--json", *args])
    assert rj.returncode == 3
    assert "error" in rj.json()


def test_topo_bad_arguments(hq, tmp_path):
    assert_unusable(run([hq, "topo", "--bogus"]))
    assert_unusable(run([hq, "topo", "--replay", tmp_path / "nope"]))
    r = run([hq, "topo", "--json", "--replay", tmp_path])
    assert r.returncode == 3 and "error" in r.json()


def lazy_bundle(root, node_mem_kib, meminfo_kib, zoneinfo=None):
    """A capture of a host whose per-node MemTotal is still filling in (deferred page init):
    2 CPUs per node, one node per entry of node_mem_kib."""
    from conftest import Bundle, T0_NS
    b = Bundle(root, identity=None)
    files = {"proc/meminfo": f"MemTotal: {meminfo_kib} kB\nMemFree: 1000 kB\n", "proc/stat": "cpu 1 0 1 10 0 0 0 0\n"}
    n = len(node_mem_kib)
    cpu = "sys/devices/system/cpu/"
    files[cpu + "present"] = files[cpu + "online"] = f"0-{2 * n - 1}\n"
    for c in range(2 * n):
        files[cpu + f"cpu{c}/topology/physical_package_id"] = f"{c // 2}\n"
        files[cpu + f"cpu{c}/topology/core_id"] = f"{c % 2}\n"
        files[cpu + f"cpu{c}/topology/thread_siblings_list"] = f"{c}\n"
    for i, kib in enumerate(node_mem_kib):
        node = f"sys/devices/system/node/node{i}/"
        files[node + "cpulist"] = f"{2 * i}-{2 * i + 1}\n"
        files[node + "distance"] = " ".join("10" if j == i else "21" for j in range(n)) + "\n"
        files[node + "meminfo"] = f"Node {i} MemTotal: {kib} kB\n"
    if zoneinfo:
        files["proc/zoneinfo"] = zoneinfo
    b.add(T0_NS, files)
    b.add(T0_NS + 100_000_000, {"proc/meminfo": files["proc/meminfo"]})
    return b


def test_fit_does_not_size_by_a_lazy_node(hq, tmp_path):
    """This guest's node0 said 5.3 GiB (growing) while /proc/meminfo said 23.5 GiB, and
    `fit --vcpus 2 --mem 8G` answered "does not fit this host" (issue 16, item 6)."""
    lazy_bundle(tmp_path / "one", [5_557_452], 24_683_664)
    r = run([hq, "fit", "--vcpus", "2", "--mem", "8G", "--replay", tmp_path / "one", "--json"])
    doc = r.json()
    assert doc["verdict"] == "one-node" and r.returncode in (0, 1), doc
    assert doc["host"]["mem_per_node_mib"] == 24_683_664 // 1024
    assert doc["host"]["mem_source"] == "proc/meminfo MemTotal" and "lazily" in doc["host"]["mem_note"], doc["host"]
    text = run([hq, "fit", "--vcpus", "2", "--mem", "8G", "--replay", tmp_path / "one"])
    assert "memory per node: proc/meminfo MemTotal (" in text.stdout and "5.3 GiB of" in text.stdout, text.stdout
    t = run([hq, "topo", "--replay", tmp_path / "one"])
    assert "24105 MiB" in t.stdout and "lazily" in t.stdout, t.stdout
    # two nodes, split 1:3 by their present pages
    zi = "Node 0, zone Normal\n        present  1000\nNode 1, zone Normal\n        present  3000\n"
    lazy_bundle(tmp_path / "two", [1_000_000, 2_000_000], 16_000_000, zi)
    doc = run([hq, "topo", "--json", "--replay", tmp_path / "two"]).json()
    assert [n["mem_total_kib"] for n in doc["nodes"]] == [4_000_000, 12_000_000], doc["nodes"]
    assert [n["mem_node_kib"] for n in doc["nodes"]] == [1_000_000, 2_000_000]
    assert doc["node_mem_source"] == "proc/meminfo MemTotal split by present pages" and not doc["node_mem_lower_bound"]
    # two nodes, nothing says how they split: the verdict says it rests on lower bounds
    lazy_bundle(tmp_path / "low", [1_000_000, 2_000_000], 16_000_000)
    r = run([hq, "fit", "--vcpus", "2", "--mem", "2G", "--replay", tmp_path / "low", "--json"])
    doc = r.json()
    assert doc["host"]["mem_lower_bound"] is True, doc["host"]
    assert any("known to be short" in n for n in doc["notes"]), doc
    # complete counts: the nodes' own figure, nothing to say
    lazy_bundle(tmp_path / "full", [8_000_000, 8_000_000], 16_000_000)
    doc = run([hq, "fit", "--vcpus", "2", "--mem", "2G", "--replay", tmp_path / "full", "--json"]).json()
    assert doc["host"]["mem_source"] == "nodeN/meminfo MemTotal" and "mem_note" not in doc["host"], doc["host"]
