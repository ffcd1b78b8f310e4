"""eBPF in a real Debian 6.1 guest (the cloud kernel has BTF): the
run-queue, block-latency and compaction programs must pass that kernel's
verifier, not only this machine's 6.18 one.  Under TCG the latencies are
emulation figures: only their presence is asserted, never their size."""
import json

import pytest

from tests.vm import harness
from tests.vm.harness import BlockDevice, VMSpec

SPEC = VMSpec(name="hq-bpf", memory_mib=384, hiddenq=True,
              disks=[BlockDevice(size_mib=64)])


@pytest.fixture(scope="module")
def guest(request):
    return harness.boot(request, SPEC)


def evidence(f, metric):
    return [e for e in f["evidence"] if e["metric"] == metric]


@pytest.mark.vm
def test_bpf_programs_load_on_the_guest_kernel(guest):
    # direct reads of the virtio disk in the background keep biolat busy
    res = guest.run(
        "(i=0; while [ $i -lt 400 ]; do dd if=/dev/vda of=/dev/null bs=4k count=1 skip=$((i*7)) "
        "iflag=direct 2>/dev/null; i=$((i+1)); done) & "
        "HIDDENQ_DEBUG_BPF=1 hiddenq diagnose --json -d 4 --no-stalls; rc=$?; wait; exit $rc",
        timeout=120)
    assert res.rc in (0, 1, 2), res.err[-3000:]
    doc = json.loads(res.out)
    cap = doc["capabilities"]["eBPF"]
    assert cap["ok"], (cap, res.err[-3000:])
    # Debian's 6.1 has CONFIG_SCHED_INFO and CONFIG_FAIR_GROUP_SCHED: the one-program queued mode loads
    assert "run-queue (queued mode)" in cap["detail"], cap
    gcs = next(f for f in doc["findings"] if f["id"] == "guest-cpu-saturation")
    assert evidence(gcs, "runq_latency_p50_us"), gcs["evidence"]
    io = next(f for f in doc["findings"] if f["id"] == "io-layer-latency")
    timed = [e for e in evidence(io, "io_requests_timed") if e.get("subject") == "vda"]
    assert timed and timed[0]["value"] > 0, io
