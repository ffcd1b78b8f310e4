"""Host mode on real VMs: four QEMU (TCG) guests from the harness, with known
settings, and `hiddenq vms` / `hiddenq audit` / `diagnose` beside them.

- busy-a (raw disk, cache=none) and busy-b (qcow2 disk) are pinned to host
  CPU 0 with the harness's affinity and run a busy loop inside: their vCPU
  threads must wait for CPU 0 about half the time, and cpu-pinning-conflict
  must fire on them.
- idle-c (2 vCPUs, a 2-queue virtio-net on a tap in a private netns) and
  idle-d are both pinned to CPU 1 and idle: the overlap shows in the matrix,
  without a warning.
- Before the busy loops start, the same VMs are watched idle: the added load
  must raise busy-a's per-vCPU run delay.

Under TCG a vCPU thread is an ordinary thread that runs the guest's code, so
its run delay is real scheduler waiting on the host (this machine), which is
exactly what KVM would hand the guest as steal.  TCG gives the guest no steal
clock, so the guests themselves cannot see it.  About 800 MiB of guest RAM;
each boot takes ~3 s.
"""

import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.vm import harness
from tests.vm.harness import BlockDevice, NetDevice, Topology, VMSpec

HQ = os.environ.get("HIDDENQ_BIN", str(Path(__file__).resolve().parents[2] / "build" / "hiddenq"))

SPECS = {
    "busy-a": VMSpec(name="busy-a", memory_mib=192, affinity=[0], hiddenq=False,
                     disks=[BlockDevice(fmt="raw", cache="none", size_mib=16)]),
    "busy-b": VMSpec(name="busy-b", memory_mib=192, affinity=[0], hiddenq=False,
                     disks=[BlockDevice(fmt="qcow2", cache="writeback", size_mib=16)]),
    "idle-c": VMSpec(name="idle-c", memory_mib=224, affinity=[1], hiddenq=False,
                     topology=Topology(sockets=1, cores=2, threads=1),
                     net=[NetDevice(mode="tap", queues=2, guest_ip="10.9.0.2/24", host_ip="10.9.0.1/24")]),
    "idle-d": VMSpec(name="idle-d", memory_mib=192, affinity=[1], hiddenq=False),
}


def hq(*args, timeout=60):
    r = subprocess.run([HQ, *args], capture_output=True, text=True, timeout=timeout)
    return r


def vms_json(*args):
    r = hq("vms", "--json", *args)
    assert r.returncode in (0, 1, 2), r.stderr
    return json.loads(r.stdout), r.returncode


def by_name(doc):
    return {v["name"]: v for v in doc["vms"] if v["name"] in SPECS}


def vcpu_delay(vm):
    return [t["run_delay_pct"] for t in vm["threads"] if t["kind"] == "vcpu"]


@pytest.fixture(scope="module")
def guests(request):
    if not Path(HQ).exists():
        harness.unavailable(f"{HQ} not built (make)")
    if os.geteuid() != 0:
        harness.unavailable("tap networking and other users' threads need root")
    if (os.cpu_count() or 1) < 2:
        harness.unavailable("needs 2 host CPUs")
    return {name: harness.boot(request, spec) for name, spec in SPECS.items()}


@pytest.fixture(scope="module")
def idle_doc(guests):
    time.sleep(1)  # let the boots settle
    doc, rc = vms_json("--duration", "3", "--interval", "250ms")
    return doc, rc


@pytest.fixture(scope="module")
def busy(guests, idle_doc):
    for name in ("busy-a", "busy-b"):
        guests[name].run("(while :; do :; done) </dev/null >/dev/null 2>&1 &", timeout=20)
    time.sleep(1)
    return guests


@pytest.mark.vm
def test_idle_overlap_is_shown_without_a_warning(guests, idle_doc):
    doc, rc = idle_doc
    vms = by_name(doc)
    assert set(vms) == set(SPECS), [v["name"] for v in doc["vms"]]
    for name, vm in vms.items():
        assert vm["pid"] == guests[name].pid
        assert vm["vmm"] == "qemu"
        assert vm["name_source"] == "cmdline"
    assert len(vcpu_delay(vms["idle-c"])) == 2
    assert [t["comm"] for t in vms["idle-c"]["threads"] if t["kind"] == "vcpu"] == ["CPU 0/TCG", "CPU 1/TCG"]
    pairs = {(p["a"], p["b"]): p["shared_cpus"] for p in doc["overlap"]}
    key = tuple(sorted(("idle-c", "idle-d")))
    assert pairs.get(key) or pairs.get(key[::-1]) == "1"
    f = doc["findings"][0]
    assert f["id"] == "cpu-pinning-conflict"
    assert f["severity"] == "ok", f["title"]
    # each disk image's backing block device, by the name /proc/diskstats uses
    host_disks = {line.split()[2] for line in Path("/proc/diskstats").read_text().splitlines()}
    for name in ("busy-a", "busy-b"):
        disks = vms[name]["disks"]
        assert len(disks) == 1 and disks[0]["file"].endswith(("disk0.raw", "disk0.qcow2")), disks
        bk = disks[0]["backing"]
        assert "error" not in bk, bk
        assert bk["dev"] in host_disks and bk["disk"] in host_disks, (bk, host_disks)
        assert "await_ms" in bk and "biolat" in bk, bk
    # KVM's page-size statistics: said to be unavailable under TCG, never shown as zeros
    for name, vm in vms.items():
        assert "kvm_pages" not in vm["memory"], vm["memory"]
        assert "not available under TCG" in vm["memory"]["kvm_pages_unavailable"], vm["memory"]


@pytest.mark.vm
def test_busy_pinned_vms_wait_and_the_finding_fires(busy, idle_doc):
    doc, rc = vms_json("--duration", "4", "--interval", "250ms")
    vms = by_name(doc)
    a, b = vcpu_delay(vms["busy-a"])[0], vcpu_delay(vms["busy-b"])[0]
    # two busy vCPU threads on one CPU: each waits about half the time
    assert a >= 20 and b >= 20, (a, b)
    # the control pair stays idle
    assert max(vcpu_delay(vms["idle-c"]) + vcpu_delay(vms["idle-d"])) < 10
    # added load raised busy-a's run delay against the idle watch
    idle_a = vcpu_delay(by_name(idle_doc[0])["busy-a"])[0]
    assert a > idle_a + 15, (idle_a, a)
    assert vms["busy-a"]["cpus_allowed"] == "0" and vms["busy-b"]["cpus_allowed"] == "0"
    pairs = {tuple(sorted((p["a"], p["b"]))): p["shared_cpus"] for p in doc["overlap"]}
    assert pairs[("busy-a", "busy-b")] == "0"
    assert pairs[("idle-c", "idle-d")] == "1"
    assert ("busy-a", "idle-c") not in pairs
    cpu0 = [c for c in doc["cpu_demand"] if c["cpu"] == 0][0]
    assert cpu0["vcpus_allowed"] == 2 and cpu0["demand_cpus"] > 1.3
    f = doc["findings"][0]
    assert f["severity"] in ("warn", "crit"), f["title"]
    assert "busy-" in f["title"] and "shared with busy-" in f["title"]
    assert rc in (1, 2)
    # the tap of idle-c: two queues, seen from the host
    taps = vms["idle-c"]["taps"]
    assert taps and taps[0]["queues"] == 2
    # text output: the matrix
    r = hq("vms", "--duration", "2")
    print(r.stdout)
    assert "CPU overlap" in r.stdout and "busy-a + busy-b share CPU 0" in r.stdout
    assert "disk0.raw: on " in r.stdout and "not available under TCG" in r.stdout


@pytest.mark.vm
def test_audit_reports_the_settings(busy):
    r = hq("audit", "--json")
    assert r.returncode in (0, 1), r.stderr
    doc = json.loads(r.stdout)
    items = doc["items"]

    def res(item, subject):
        m = [i for i in items if i["id"] == item and i["subject"] and i["subject"].startswith(subject)]
        assert m, (item, subject)
        return m

    assert res("vm-disk-format", "busy-b")[0]["result"] == "fail"
    assert "qcow2" in res("vm-disk-format", "busy-b")[0]["evidence"]
    assert res("vm-disk-format", "busy-a")[0]["result"] == "pass"
    assert res("vm-disk-cache-io", "busy-a")[0]["evidence"].startswith("cache=none")
    assert res("vm-disk-cache-io", "busy-b")[0]["evidence"].startswith("cache=writeback")
    assert res("vm-virtio-disk", "busy-a")[0]["result"] == "pass"
    mq = res("vm-nic-multiqueue", "idle-c")[0]
    assert mq["result"] == "pass", mq
    assert "2 queues for 2 vCPUs" in mq["evidence"] and "2 tap queues open on the host" in mq["evidence"]
    vms = {v["name"]: v for v in doc["vms"]}
    assert vms["idle-c"]["vcpus"] == 2 and vms["busy-a"]["memory_mib"] == 192
    assert vms["busy-a"]["accel"] == "tcg"


class QMPProxy:
    """A QMP server on a socket this test owns, answered through the harness's
    own QMP connection (QEMU allows one QMP client, and the harness is it)."""

    def __init__(self, vm, path):
        self.vm, self.path = vm, path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(0.5)
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            with c:
                c.settimeout(5)
                c.sendall(b'{"QMP": {"version": {}, "capabilities": []}}\r\n')
                f = c.makefile("rb")
                for line in f:
                    req = json.loads(line)
                    if req.get("execute") == "qmp_capabilities":
                        rep = {"return": {}}
                    else:
                        try:
                            rep = {"return": self.vm.qmp.execute(req["execute"], req.get("arguments"))}
                        except harness.VMError as e:  # QEMU said no: say so, as QEMU would
                            rep = {"error": {"class": "GenericError", "desc": str(e)}}
                    c.sendall(json.dumps(rep).encode() + b"\r\n")

    def close(self):
        self.stop = True
        self.t.join(5)
        self.sock.close()


@pytest.mark.vm
def test_qmp_blockstats_on_an_owned_socket(busy, tmp_path):
    vm = busy["busy-a"]
    proxy = QMPProxy(vm, str(tmp_path / "a.qmp"))
    try:
        # reads through the guest's disk while we watch.  The image is sparse and
        # reading a hole costs the host no IO, so write the region once first:
        # with cache=none the reads then reach the host device under the image.
        vm.run("dd if=/dev/urandom of=/dev/vda bs=4k count=256 oflag=direct 2>/dev/null; "
               "(while :; do dd if=/dev/vda of=/dev/null bs=4k count=256 iflag=direct 2>/dev/null; done) "
               "</dev/null >/dev/null 2>&1 &", timeout=20)
        doc, _ = vms_json("--duration", "3", "--interval", "500ms", "--qmp", f"busy-a={proxy.path}")
    finally:
        proxy.close()
    qmp = by_name(doc)["busy-a"]["qmp"]
    assert "error" not in qmp, qmp
    devs = {b["device"]: b for b in qmp["blockstats"]}
    assert devs, qmp
    assert any(b["rd_ops_s"] > 0 and b["rd_latency_us"] for b in devs.values()), devs
    # beside the VMM's figure, the host device under the image (cache=none: the
    # guest's direct reads reach it) with its own latency over the same watch
    bk = by_name(doc)["busy-a"]["disks"][0]["backing"]
    assert bk["disk"] and bk["rd_s"] > 0, bk
    assert isinstance(bk["await_ms"], (int, float)) and bk["await_ms"] >= 0, bk
    bl = bk["biolat"]
    assert bl.get("p50_us") is not None or bl.get("why"), bl
    if bl.get("p50_us") is not None:
        assert bl["requests"] > 0 and bl["p99_us"] >= bl["p50_us"], bl


@pytest.mark.vm
def test_qmp_latency_histograms_only_on_request(busy, tmp_path):
    """hiddenq only reads an owned QMP socket unless asked: without --qmp-histograms QEMU has no
    latency histograms; with it every disk gets hiddenq's log2 boundaries, and the p50/p99 vms
    reports fall inside the bins QEMU itself filled."""
    vm = busy["busy-a"]
    proxy = QMPProxy(vm, str(tmp_path / "h.qmp"))
    try:
        vm.run("dd if=/dev/urandom of=/dev/vda bs=4k count=64 oflag=direct 2>/dev/null; "
               "(i=0; while [ $i -lt 3000 ]; do dd if=/dev/vda of=/dev/null bs=4k count=64 iflag=direct 2>/dev/null; "
               "i=$((i+1)); done) </dev/null >/dev/null 2>&1 &", timeout=20)
        vms_json("--duration", "1", "--interval", "500ms", "--qmp", f"busy-a={proxy.path}")
        plain = vm.qmp.execute("query-blockstats")
        assert plain and all("rd_latency_histogram" not in d["stats"] for d in plain), plain
        doc, _ = vms_json("--duration", "4", "--interval", "500ms", "--qmp", f"busy-a={proxy.path}",
                          "--qmp-histograms")
    finally:
        proxy.close()
    after = vm.qmp.execute("query-blockstats")
    try:
        qmp = by_name(doc)["busy-a"]["qmp"]
        assert "error" not in qmp, qmp
        for d in after:
            h = d["stats"]["rd_latency_histogram"]
            assert h["boundaries"] == [1000 << s for s in range(23)], h
        got = [b for b in qmp["blockstats"] if b.get("latency_histograms", {}).get("read", {}).get("requests")]
        assert got, qmp["blockstats"]
        rd = got[0]["latency_histograms"]["read"]
        assert rd["reset_during_watch"] is False and 0 <= rd["p50_us"] <= rd["p99_us"], rd
        # QEMU's own bins: the watch's counts are a part of them, and p50 lies in the filled range
        qh = next(d["stats"]["rd_latency_histogram"] for d in after
                  if got[0]["device"] in (d.get("device"), d.get("qdev"), d.get("node-name")))
        assert rd["requests"] <= sum(qh["bins"]), (rd, qh)
        edges = [0] + qh["boundaries"]
        filled = [i for i, n in enumerate(qh["bins"]) if n]
        lo = edges[filled[0]] / 1000
        hi = qh["boundaries"][filled[-1]] / 1000 if filled[-1] < len(qh["boundaries"]) else float("inf")
        assert lo <= rd["p50_us"] <= hi, (rd, qh)
    finally:
        for d in after:  # leave the VM as we found it for the tests after this one
            vm.qmp.execute("block-latency-histogram-set", {"id": d.get("qdev") or d["device"]})


@pytest.mark.vm
def test_capture_replays_host_mode(busy, tmp_path):
    out = tmp_path / "bundle"
    r = hq("capture", "-o", str(out), "-d", "3", "-i", "250ms", "--no-bpf", "-q", timeout=90)
    assert r.returncode == 0, r.stderr
    doc, rc = vms_json("--replay", str(out))
    vms = by_name(doc)
    assert set(vms) == set(SPECS)
    assert vcpu_delay(vms["busy-a"])[0] >= 20
    r = hq("diagnose", "--replay", str(out), "--json")
    d = json.loads(r.stdout)
    f = [x for x in d["findings"] if x["id"] == "cpu-pinning-conflict"][0]
    assert f["severity"] in ("warn", "crit"), f["title"]
