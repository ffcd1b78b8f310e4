"""hiddenq topo and fit inside a real guest: 2 sockets x 2 cores x 2 threads,
two NUMA nodes with SLIT distances 10/21, 512 MiB each (QEMU TCG).

What QEMU was told is what `hiddenq topo --json` must report: sockets,
cores, threads, per-node CPU lists, distances, and node memory (MemTotal is
a little below the node's span: firmware holes and kernel reservations).

Under TCG the NUMA nodes are labels only: remote memory costs exactly as
much as local memory, so nothing here measures a NUMA penalty; it checks
structure.  `fit` then sizes a 4-vCPU, 256 MiB VM against this guest's own
topology: it fits one node (2 cores x 2 threads per node).
"""
import json

import pytest

from tests.vm import harness
from tests.vm.harness import NumaNode, Topology, VMSpec

NODE_MIB = 512
SPEC = VMSpec(
    name="hq-topo-vm",
    memory_mib=2 * NODE_MIB,
    topology=Topology(sockets=2, cores=2, threads=2,
                      nodes=[NumaNode("0-3", NODE_MIB), NumaNode("4-7", NODE_MIB)],
                      distances=[[10, 21], [21, 10]]),
    hiddenq=True,
    boot_timeout=120,
)


def cpulist(s):
    out = set()
    for part in s.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.update(range(int(a), int(b) + 1))
        elif part:
            out.add(int(part))
    return out


@pytest.fixture(scope="module")
def guest(request):
    harness.need_hiddenq()
    return harness.boot(request, SPEC)


@pytest.mark.vm
def test_topo_inside_matches_what_qemu_was_told(guest):
    t = SPEC.topology
    res = guest.run("hiddenq topo --json", timeout=120)
    assert res.rc == 0, res.err
    doc = json.loads(res.out)
    s = doc["summary"]
    assert (s["sockets"], s["cores_per_socket"], s["threads_per_core"]) == (t.sockets, t.cores, t.threads)
    assert s["cpus_online"] == t.cpus and s["cores"] == t.sockets * t.cores
    assert s["nodes"] == len(t.nodes)
    assert doc["hypervisor"]["guest"] is True
    assert doc["vnuma"] is True
    for i, want in enumerate(t.nodes):
        n = doc["nodes"][i]
        assert n["id"] == i
        assert set(n["cpu_list"]) == cpulist(want.cpus)
        assert n["distances"] == t.distances[i]
        span_kib = want.mem_mib << 10
        assert 0.6 * span_kib < n["mem_total_kib"] <= span_kib
    # QEMU numbers vCPUs thread-fastest: cpu i is socket i//4, siblings in pairs
    for c in doc["cpus"]:
        assert c["socket"] == c["cpu"] // (t.cores * t.threads)
        assert c["thread"] == c["cpu"] % t.threads
        assert c["node"] == c["cpu"] // 4
    # the cpu_layout table: two sockets, two core rows, sibling pairs side by side
    assert len(doc["layout"]["sockets"]) == 2 and len(doc["layout"]["cells"]) == 2
    assert doc["layout"]["cells"][0][0] == [0, 1]
    assert doc["layout"]["cells"][0][1] == [4, 5]
    assert doc["hwloc"] == "not built in"   # the static binary


@pytest.mark.vm
def test_topo_text_inside(guest):
    res = guest.run("hiddenq topo", timeout=120)
    assert res.rc == 0, res.err
    assert "2 sockets × 2 cores × 2 threads = 8 CPUs online, 2 NUMA nodes" in res.out
    assert "vNUMA: yes" in res.out


@pytest.mark.vm
def test_fit_inside_on_the_live_topology(guest):
    res = guest.run("hiddenq fit --vcpus 4 --mem 256M --json", timeout=120)
    assert res.rc in (0, 1), res.err
    doc = json.loads(res.out)
    assert doc["host"]["source"] == "live"
    assert doc["host"]["nodes"] == 2 and doc["host"]["threads_per_core"] == 2
    assert doc["fits_one_node"] is True
    assert doc["shape"]["sockets"] == 1
    assert doc["shape"]["cores"] * doc["shape"]["threads"] == 4
    # 8 vCPUs and 768 MiB need both nodes
    res = guest.run("hiddenq fit --vcpus 8 --mem 768M --json", timeout=120)
    assert res.rc in (0, 1), res.err
    doc = json.loads(res.out)
    assert doc["verdict"] == "split" and len(doc["vnuma"]) == 2
