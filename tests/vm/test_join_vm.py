"""Guest and host joined, with real parts.

One QEMU (TCG) guest, started with a known -uuid and a second QMP socket:

- Inside it `hiddenq serve` (the static build, plain HTTP) listens on the
  guest's port 9814, reached from here through a loopback port forward
  (QEMU user networking's hostfwd); a small paced reader keeps its disk
  busy.  Beside it, this machine's `hiddenq serve` is the guest's host, with
  the VM's QMP socket for its block statistics.  A real Prometheus scrapes
  both with the generated rules (`hiddenq rules --prometheus --window 10s`:
  serve reads QMP every 5 s, so a 10 s window always holds a step), and the
  join must pair the guest with its VM: the guest's series carry the guest's
  instance, the host's host_instance and its name for the VM; the host's
  run delay of each vCPU thread and the VMM's await for the VM's disk arrive
  beside the guest's await.
- Offline: a capture inside the guest while one runs here (with --qmp),
  and `hiddenq join` on the two bundles: per vCPU, and the guest's await
  beside the VMM's for the same reads.

TCG gives the guest no steal clock, so the guest exports no steal series
and the steal-beside-delay rules are empty on its side: the test says so,
checks that they are empty, and asserts the join and the host's side (a TCG
vCPU thread's run delay is real waiting on this machine's scheduler).  The
disagreements the join explains (steal without run delay) cannot be made
here; tests/e2e/test_join.py covers them on synthesized bundles.
"""
import json
import math
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.vm import harness
from tests.vm.harness import BlockDevice, NetDevice, Topology, VMSpec

REPO = Path(__file__).resolve().parents[2]
HQ = os.environ.get("HIDDENQ_BIN", str(REPO / "build" / "hiddenq"))
PROMETHEUS = "/usr/bin/prometheus"
UUID = "5e1f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
VM_NAME = "hq-join"
WINDOW = "10s"
LIMIT_S = "300"   # timeout(1) ends anything started here that outlives the test


def wait_for(cond, timeout, what, poll=0.2):
    """Poll cond until it returns something true, or fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what() if callable(what) else what}")
        time.sleep(poll)


def stop(p):
    """By PID: SIGTERM, then SIGKILL."""
    if p and p.poll() is None:
        os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


def get(port, path="/metrics"):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
            return r.status, r.read().decode()
    except OSError:
        return None, ""


class Prom:
    """Prometheus on a loopback port, fresh TSDB, scraping {job: port} every second with `rules`."""

    def __init__(self, d, targets, rules):
        self.d, self.targets, self.rules = Path(d), targets, rules

    def __enter__(self):
        jobs = "".join(f"  - job_name: {j}\n    static_configs:\n      - targets: ['127.0.0.1:{p}']\n"
                       for j, p in self.targets.items())
        (self.d / "rules.yml").write_text(self.rules)
        cfg = self.d / "prometheus.yml"
        cfg.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                       f"rule_files: ['{self.d / 'rules.yml'}']\nscrape_configs:\n" + jobs)
        self.port = harness.loopback_port()
        self.log = open(self.d / "prometheus.log", "wb")
        self.proc = subprocess.Popen(["timeout", LIMIT_S, PROMETHEUS, f"--config.file={cfg}",
                                      f"--storage.tsdb.path={self.d / 'tsdb'}",
                                      f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        try:
            def ready():
                assert self.proc.poll() is None, (self.d / "prometheus.log").read_text(errors="replace")
                return get(self.port, "/-/ready")[0] == 200
            wait_for(ready, 60, "prometheus to be ready")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        stop(self.proc)
        self.log.close()
        return False

    def query(self, q):
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
        with urllib.request.urlopen(url, timeout=10) as r:
            doc = json.load(r)
        assert doc["status"] == "success", doc
        return [(x["metric"], float(x["value"][1])) for x in doc["data"]["result"]]

    def finite(self, q):
        """The query's samples once it has some, all finite and above 0."""
        r = self.query(q)
        return r if r and all(math.isfinite(v) and v > 0 for _, v in r) else None


def host_serve(tmp, *args):
    """This machine's serve on an ephemeral loopback port: (process, port)."""
    errp = tmp / "host-serve.err"
    with open(errp, "wb") as err:
        p = subprocess.Popen(["timeout", LIMIT_S, HQ, "serve", "--listen", "127.0.0.1:0", "--no-bpf", *args],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)

    def port():
        m = re.search(r"listening on \S+ \(port (\d+)\)", errp.read_text(errors="replace"))
        assert p.poll() is None, errp.read_text(errors="replace")
        return int(m.group(1)) if m else None
    try:
        return p, wait_for(port, 60, "the host's serve to listen")
    except BaseException:
        stop(p)
        raise


def reads(vm):
    """Paced O_DIRECT reads of the guest's disk in its background, once: both sides count them."""
    if not getattr(vm, "reading", False):
        vm.check("(i=0; while :; do dd if=/dev/vda of=/dev/null bs=4k count=8 skip=$(( (i*8) % 8000 )) "
                 "iflag=direct 2>/dev/null; sleep 0.1; i=$((i+1)); done) </dev/null >/dev/null 2>&1 &\n"
                 "echo started", timeout=30)
        vm.reading = True


@pytest.fixture(scope="module")
def guest(request):
    harness.need_hiddenq()
    gport = harness.loopback_port()
    spec = VMSpec(name=VM_NAME, memory_mib=320, uuid=UUID, hiddenq=True, extra_qmp=True,
                  topology=Topology(sockets=1, cores=2, threads=1),
                  net=[NetDevice(mode="user", hostfwd=[(gport, 9814)])],
                  disks=[BlockDevice(size_mib=32, serial="hqjoin")])
    t0 = time.monotonic()
    vm = harness.boot(request, spec)
    print(f"\nboot: {time.monotonic() - t0:.1f} s")
    vm.gport = gport
    # the guest knows itself by the UUID QEMU was given (what both sides join on)
    assert vm.check("cat /sys/class/dmi/id/product_uuid").strip() == UUID
    return vm


@pytest.mark.vm
def test_prometheus_joins_the_guest_to_its_host(guest, tmp_path):
    if not (os.access(PROMETHEUS, os.X_OK) and shutil.which("promtool")):
        pytest.skip("needs prometheus and promtool (Debian package prometheus; scripts/setup.sh test)")
    vm = guest
    t0 = time.monotonic()
    # the guest: serve on every address (the forward arrives on eth0); reads of its disk, paced
    vm.check("hiddenq serve --listen :9814 --no-bpf -q </dev/null >/tmp/serve.log 2>&1 &\necho started", timeout=30)
    reads(vm)
    hp, hport = host_serve(tmp_path, "--qmp", f"{VM_NAME}={vm.extra_qmp_path}")
    try:
        wait_for(lambda: get(vm.gport)[0] == 200, 60,
                 lambda: f"the guest's serve through the port forward ({vm.run('cat /tmp/serve.log').out!r})")
        body = get(vm.gport)[1]
        m = re.search(r'^hiddenq_guest_info\{([^}]*)\} 1', body, re.M)
        assert m and f'uuid="{UUID}"' in m.group(1) and 'hypervisor="QEMU TCG"' in m.group(1), body[:3000]
        # TCG has no steal clock: the guest exports no steal series at all
        assert "hiddenq_cpu_steal_seconds_total{" not in body
        assert re.search(r'^hiddenq_disk_requests_total\{device="vda",op="read"\} [1-9]', body, re.M), body[:3000]

        def vm_info():
            return re.search(r'^hiddenq_vm_info\{[^}]*vm="' + VM_NAME + r'"[^}]*\} 1', get(hport)[1], re.M)
        m = wait_for(vm_info, 60, "the host's serve to find the VM")
        assert f'uuid="{UUID}"' in m.group(0), m.group(0)
        rules = subprocess.run([HQ, "rules", "--prometheus", "--window", WINDOW], capture_output=True, text=True,
                               timeout=30, check=True).stdout
        with Prom(tmp_path, {"guest": vm.gport, "host": hport}, rules) as prom:
            g_inst, h_inst = f"127.0.0.1:{vm.gport}", f"127.0.0.1:{hport}"
            pair = wait_for(lambda: prom.query("hiddenq:guest_host_pair"), 60, "the guest/host pair")
            assert len(pair) == 1, pair
            lab = pair[0][0]
            assert (lab["instance"], lab["host_instance"], lab["vm"], lab["vmm"]) == \
                (g_inst, h_inst, VM_NAME, "qemu"), lab
            by_uuid = prom.query(f'hiddenq:guest_host_pair:by_uuid{{uuid="{UUID}"}}')
            assert by_uuid and by_uuid[0][0]["instance"] == g_inst, by_uuid
            # the host's side: each vCPU thread's run delay, labelled for the join
            delay = wait_for(lambda: prom.query(f'hiddenq:host_vcpu_delay_ratio:{WINDOW}{{vm="{VM_NAME}"}}'), 30,
                             "the host's vCPU run delay")
            assert sorted(x[0]["vcpu"] for x in delay) == ["0", "1"], delay
            assert all(x[0]["host_instance"] == h_inst and 0 <= x[1] <= 1.01 for x in delay), delay
            # IO: the guest's await and the VMM's own time for the same VM's requests, joined
            joined = wait_for(lambda: prom.query(f"hiddenq:guest_await_minus_host_vm_await_seconds:{WINDOW}"),
                              30, "the guest's await beside the VMM's")
            assert [(x[0]["instance"], x[0]["vm"], x[0]["host_instance"]) for x in joined] == \
                [(g_inst, VM_NAME, h_inst)], joined
            vmm = wait_for(lambda: prom.finite(f'hiddenq:host_vm_disk_await_seconds:{WINDOW}{{vm="{VM_NAME}"}}'),
                           30, "the VMM's await for the VM's reads")
            gw = wait_for(lambda: prom.finite(f"hiddenq:guest_disk_await_seconds:{WINDOW}"), 30,
                          "the guest's await")
            # the guest's side of steal is empty under TCG: said, and checked
            assert prom.query(f"hiddenq:guest_vcpu_steal_ratio:{WINDOW}") == []
            assert prom.query(f"hiddenq:vcpu_steal_minus_host_delay_ratio:{WINDOW}") == []
            print(f"joined: guest {g_inst} <-> host {h_inst} vm {VM_NAME}; vCPU run delay "
                  f"{[round(x[1], 3) for x in delay]}; guest await {gw[0][1] * 1e3:.3f} ms, VMM "
                  f"{vmm[0][1] * 1e3:.3f} ms (TCG: no steal on the guest's side); "
                  f"{time.monotonic() - t0:.1f} s")
    finally:
        stop(hp)


@pytest.mark.vm
def test_offline_join_of_two_captures(guest, tmp_path):
    vm = guest
    t0 = time.monotonic()
    host_out = tmp_path / "host"
    reads(vm)
    hc = subprocess.Popen(["timeout", LIMIT_S, HQ, "capture", "-o", str(host_out), "-i", "250ms", "-d", "120s",
                           "--no-bpf", "-q", "--qmp", f"{VM_NAME}={vm.extra_qmp_path}"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # the guest's capture starts once the host's has a sample, and the host's stops after the guest's ends
        wait_for(lambda: (host_out / "samples" / "000001").is_dir() or hc.poll() is not None, 60,
                 "the host's capture to write its first sample")
        assert hc.poll() is None, hc.communicate()
        r = vm.run("rm -rf /tmp/g && hiddenq capture -o /tmp/g -i 250ms -d 3s --no-bpf -q", timeout=120)
        assert r.rc == 0, r.err
        os.kill(hc.pid, signal.SIGTERM)   # timeout(1) passes it on; capture finishes its bundle
        out, err = hc.communicate(timeout=60)
        assert hc.returncode == 0, err
    finally:
        stop(hc)
    # hiddenq vms shows how the guest knows itself, from the host's bundle as live
    v = subprocess.run([HQ, "vms", "--json", "--replay", str(host_out)], capture_output=True, text=True, timeout=60)
    mine = [x for x in json.loads(v.stdout)["vms"] if x["name"] == VM_NAME]
    assert len(mine) == 1 and mine[0]["uuid"] == UUID and mine[0]["machine_id"] is None, mine
    v = subprocess.run([HQ, "vms", "--replay", str(host_out)], capture_output=True, text=True, timeout=60)
    assert f"its guest: system UUID {UUID}" in v.stdout, v.stdout
    g = vm.fetch_dir("/tmp/g", tmp_path / "g")
    j = subprocess.run([HQ, "join", "--json", str(g), str(host_out)], capture_output=True, text=True, timeout=60)
    assert j.returncode == 0, j.stdout + j.stderr
    doc = json.loads(j.stdout)
    assert doc["matched"] and doc["matched_by"] == "system UUID" and doc["key"] == UUID, doc
    assert doc["host"]["vm"] == VM_NAME and doc["guest"]["hypervisor"] == "QEMU TCG", doc
    assert doc["overlap_s"] >= 2, doc
    assert doc["guest"]["steal_reported"] is False
    vc = {v["vcpu"]: v for v in doc["vcpus"]}
    assert sorted(vc) == [0, 1], doc["vcpus"]
    for v in vc.values():
        # TCG: the host's run delay is the only view of this queue, and the join says so
        assert v["verdict"] == "no steal reported" and v["guest_steal_pct"] is None, v
        assert v["host_delay_pct"] is not None and 0 <= v["host_delay_pct"] <= 101, v
    # the disks: the guest's await over vda beside the VMM's own time for the same reads (QMP, --qmp)
    dk = doc["disks"]
    assert dk["guest_disks"] == 1 and dk["guest_await_ms"] > 0 and dk["vmm_await_ms"] > 0, dk
    assert "above the VMM" in dk["why"], dk
    t = subprocess.run([HQ, "join", str(g), str(host_out)], capture_output=True, text=True, timeout=60)
    assert t.returncode == 0 and f"matched by system UUID {UUID}" in t.stdout, t.stdout + t.stderr
    assert "no steal reported" in t.stdout and "does not report steal" in t.stdout, t.stdout
    # the guest's own bundle names it: its stack facts and identity replay the same
    d = subprocess.run([HQ, "diagnose", "--json", "--replay", str(g)], capture_output=True, text=True, timeout=60)
    env = json.loads(d.stdout)["environment"]["stack"]
    assert env["system_uuid"]["value"] == UUID and env["nesting"]["value"] == "emulated (QEMU TCG)", env
    assert env["disks"][0]["name"] == "vda" and env["disks"][0]["kind"] == "virtio-blk", env["disks"]
    assert env["nics"][0]["kind"] == "virtio-net", env["nics"]
    print(f"\noffline join: overlap {doc['overlap_s']:.1f} s, vCPU run delay "
          f"{[v['host_delay_pct'] for v in doc['vcpus']]} %, guest await {dk['guest_await_ms']} ms, VMM "
          f"{dk['vmm_await_ms']} ms; {time.monotonic() - t0:.1f} s")
