"""Network queues on real things: a veth pair between two private network
namespaces this test creates, a small tbf qdisc on one end, and a bounded
UDP flood across it.  `hiddenq diagnose` runs inside the sending namespace
and must name the qdisc as the queue that dropped, with the mq/parent
de-duplication and the host-side RX-ring caveat in its text.  Everything is
removed in a finally (namespaces by name, processes by PID).  Needs root.
"""
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import assert_no_crash, check_doc_shape, expected_exit, finding, kill_tree, run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: network namespaces, veth and tc")

FLOOD = r"""
import socket, sys, time
dst, secs = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
payload = b"x" * 1200
end = time.monotonic() + secs
sent = err = 0
while time.monotonic() < end:
    try:
        s.sendto(payload, (dst, 9))
        sent += 1
    except OSError:
        err += 1
print(sent, err)
"""


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=20, check=check)


@pytest.fixture
def veth_pair():
    if subprocess.run(["which", "ip"], capture_output=True).returncode or \
            subprocess.run(["which", "tc"], capture_output=True).returncode:
        pytest.skip("iproute2 (ip, tc) missing: apt-get install iproute2")
    tag = f"{os.getpid() % 100000}"
    a, b = f"hqa{tag}", f"hqb{tag}"
    va, vb = f"hqva{tag}", f"hqvb{tag}"
    made = []
    try:
        for ns in (a, b):
            sh("ip", "netns", "add", ns)
            made.append(ns)
        sh("ip", "link", "add", va, "netns", a, "type", "veth", "peer", "name", vb, "netns", b)
        sh("ip", "-n", a, "addr", "add", "10.231.0.1/24", "dev", va)
        sh("ip", "-n", b, "addr", "add", "10.231.0.2/24", "dev", vb)
        for ns, dev in ((a, va), (b, vb)):
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        # a small, slow transmit queue: 2 Mbit/s with a 3000-byte queue
        sh("ip", "netns", "exec", a, "tc", "qdisc", "add", "dev", va, "root", "handle", "1:", "tbf",
           "rate", "2mbit", "burst", "4kb", "limit", "3000")
        yield {"ns": a, "peer_ns": b, "dev": va, "dst": "10.231.0.2"}
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


def test_qdisc_that_dropped_is_named(hq, veth_pair):
    ns, dev = veth_pair["ns"], veth_pair["dev"]
    flood = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", FLOOD, veth_pair["dst"], "7"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        time.sleep(0.5)
        res = run(["ip", "netns", "exec", ns, hq, "diagnose", "--json", "-d", "4", "--no-stalls"], timeout=60)
    finally:
        kill_tree(flood)
    assert_no_crash(res)
    doc = res.json()
    check_doc_shape(doc)
    assert res.returncode == expected_exit(doc)
    f = finding(doc, "virtqueue-saturation")
    assert f["failure_mode"] == 4
    assert f["severity"] in ("warn", "crit"), f
    # the queue that dropped is the tbf qdisc on our veth, named in the title and the evidence
    assert f"{dev} qdisc tbf 1:0" in f["title"], f["title"]
    assert "dropped" in f["title"]
    drops = [e for e in f["evidence"] if e["metric"] == "qdisc_drops_per_s" and dev in e.get("subject", "")]
    assert drops and drops[0]["value"] > 1, f["evidence"]
    backlog = [e for e in f["evidence"] if e["metric"] == "qdisc_backlog_max" and dev in e.get("subject", "")]
    assert backlog and backlog[0]["value"] > 0
    # only the namespace's own interfaces are seen
    subjects = " ".join(e.get("subject", "") for e in f["evidence"])
    assert "eth0" not in subjects
    assert "tap" in f["explain"] and "host" in f["explain"]
    assert any("tc -s qdisc show dev " + dev in n for n in f["next"]), f["next"]
    print("\n" + json.dumps({k: f[k] for k in ("severity", "title")}, indent=1))


def test_softirq_and_rps_evidence(hq, veth_pair):
    """NET_RX/NET_TX softirqs per CPU and each queue's RPS/XPS CPUs are in the evidence; an rps_cpus
    set inside the namespace is reported as the CPU list, an unset one as "none"; and the network
    sources have a capability line."""
    ns, dev = veth_pair["ns"], veth_pair["dev"]
    r = sh("ip", "netns", "exec", ns, "sh", "-c", f"ls /sys/class/net/{dev}/queues")
    rx = sorted(q for q in r.stdout.split() if q.startswith("rx-"))
    assert rx, r.stdout
    # RPS on rx-0 to CPU 0 only; any other rx queue stays unset
    sh("ip", "netns", "exec", ns, "sh", "-c", f"echo 1 > /sys/class/net/{dev}/queues/rx-0/rps_cpus")
    flood = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", FLOOD, veth_pair["dst"], "6"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        time.sleep(0.3)
        res = run(["ip", "netns", "exec", ns, hq, "diagnose", "--json", "-d", "3", "--no-stalls"], timeout=60)
    finally:
        kill_tree(flood)
    assert_no_crash(res)
    doc = res.json()
    f = finding(doc, "virtqueue-saturation")
    evs = f["evidence"]
    rps = {e["subject"]: e["value"] for e in evs if e["metric"] == "rps_cpus"}
    assert rps.get(f"{dev} rx-0 rps_cpus=0") == 1, rps
    for q in rx[1:]:
        assert rps.get(f"{dev} {q} rps_cpus=none") == 0, rps
    xps = [e["subject"] for e in evs if e["metric"] == "xps_cpus"]
    assert any(s.startswith(f"{dev} tx-0 xps_cpus=") for s in xps), xps
    ncpu = os.cpu_count()
    netrx = [e for e in evs if e["metric"] == "net_rx_softirqs_per_s"]
    nettx = [e for e in evs if e["metric"] == "net_tx_softirqs_per_s"]
    assert netrx and nettx, [e["metric"] for e in evs]
    assert {e["cpu"] for e in netrx} <= set(range(ncpu)) and all(e["value"] >= 0 for e in netrx)
    assert sum(e["value"] for e in netrx) > 0, netrx  # the peer's replies and the flood's own softirqs
    cap = doc["capabilities"].get("network")
    assert cap, doc["capabilities"].keys()
    for part in ("ethtool ioctl", "netlink qdisc dump ok", "netdev qstats-get"):
        assert part in cap["detail"], cap


def test_capture_in_netns_replays(hq, veth_pair, tmp_path):
    """The qdisc, ethtool and qstats JSON go into the bundle and replay to the same finding."""
    ns = veth_pair["ns"]
    flood = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", FLOOD, veth_pair["dst"], "5"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    out = tmp_path / "b"
    try:
        time.sleep(0.3)
        res = run(["ip", "netns", "exec", ns, hq, "capture", "-o", out, "-i", "200ms", "-n", "16", "--no-stalls",
                   "--no-tasks", "-q"], timeout=60)
    finally:
        kill_tree(flood)
    assert res.returncode == 0, res
    meta = json.loads((out / "meta.json").read_text())
    assert meta["sources"][".hiddenq/qdisc.json"]["available"] is True
    q = json.loads((out / "samples" / "000000" / ".hiddenq" / "qdisc.json").read_text())
    assert any(x.get("kind") == "tbf" for x in q)
    assert (out / "samples" / "000000" / ".hiddenq" / "devices.json").is_file()
    rep = run([hq, "diagnose", "--json", "--replay", out])
    f = finding(rep.json(), "virtqueue-saturation")
    assert f["severity"] in ("warn", "crit") and "qdisc tbf" in f["title"], f


def test_this_nics_names_after_6_10(hq):
    """This machine's own NIC (virtio_net): which naming its driver uses is read from what hiddenq's
    ethtool read returned, never from the kernel version.  With the per-queue names of 6.10 and
    later (rxN_*/txN_*), packets/bytes come from netdev qstats, not ethtool; with the older
    rx_queue_N_* names, ethtool has them."""
    if not os.path.exists("/sys/class/net/eth0/device/driver") or \
            "virtio_net" not in os.path.realpath("/sys/class/net/eth0/device/driver"):
        pytest.skip("eth0 is not a virtio_net device here")
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "b")
        res = run([hq, "capture", "-o", out, "-n", "3", "-i", "500ms", "--no-stalls", "--no-tasks", "-q"])
        assert res.returncode == 0, res
        eth = json.load(open(os.path.join(out, "samples", "000000", ".hiddenq", "ethtool.json")))
        if "error" in eth:
            pytest.skip(f"hiddenq's ethtool read failed here: {eth['error']}")
        assert eth["eth0"]["driver"] == "virtio_net"
        names = set(eth["eth0"]["stats"])
        per_queue = "rx0_kicks" in names  # the driver's names since 6.10
        assert per_queue or "rx_queue_0_kicks" in names, names
        if per_queue:
            assert "rx0_drops" in names, names
            assert not names & {"rx0_packets", "rx0_bytes", "rx_queue_0_packets", "tx0_packets"}, names
            qs = json.load(open(os.path.join(out, "samples", "000000", ".hiddenq", "qstats.json")))
            # packets moved to qstats in the same kernel: hiddenq must have read them there
            assert isinstance(qs, list), qs
            assert any(q.get("ifname") == "eth0" and q.get("type") == "rx" and "rx-packets" in q for q in qs), qs
        else:
            assert "rx_queue_0_packets" in names and "rx_queue_0_bytes" in names, names
        rep = run([hq, "diagnose", "--json", "--replay", out])
        f = finding(rep.json(), "virtqueue-saturation")
        rates = [e for e in f["evidence"] if e["metric"] == "queue_packets_per_s" and
                 e.get("subject", "").startswith("eth0 rx-")]
        assert rates, f["evidence"]
