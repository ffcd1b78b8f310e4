"""A stall the eBPF timer-lateness method can see, made for real: the
guest's vCPUs not running.  A guest cannot do that to itself, so the test
stops the test VM's QEMU process from the host (SIGSTOP for 500 ms) while
two captures run inside: --stalls bpf (how late the kernel's own hrtimers
ran) and --stalls coarse (a thread sleeping 20 ms), side by side.  The
guest's clock (hpet or kvm-clock, both read host time) goes on while QEMU
is stopped, so every timer due in the gap runs about 500 ms late.

Under TCG the timings are emulation (docs/vm-harness.md): only the stop's
length is asserted, against what the host measured, never the guest's
everyday lateness."""
import json
import os
import signal
import subprocess
import time

import pytest

from tests.vm import harness
from tests.vm.harness import Topology, VMSpec

SPEC = VMSpec(name="hq-stalls", memory_mib=384, hiddenq=True, topology=Topology(cores=2))
STOP_S = 0.5


@pytest.fixture(scope="module")
def guest(request):
    return harness.boot(request, SPEC)


def guest_stalls(guest, bundle):
    """Every stalls.json of a guest bundle, in order."""
    out = guest.check(f"for f in {bundle}/samples/*/.hiddenq/stalls.json; do cat \"$f\"; echo; done")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.vm
def test_stopped_vm_is_seen_by_bpf_and_coarse(guest, tmp_path):
    harness.need_hiddenq()
    caps = {"bpf": "/tmp/b-bpf", "coarse": "/tmp/b-coarse"}
    for method, out in caps.items():
        guest.check(f"rm -rf {out}; hiddenq capture -o {out} -d 8 -i 200ms --stalls {method} --no-bpf "
                    f"--no-tasks --no-cgroups -q >/tmp/{method}.log 2>&1 & echo $! >/tmp/{method}.pid")

    def started():
        return all(guest.run(f"ls {out}/samples/000001 >/dev/null 2>&1").rc == 0 for out in caps.values())
    deadline = time.monotonic() + 60
    while not started():
        assert time.monotonic() < deadline, guest.run("cat /tmp/bpf.log /tmp/coarse.log").out
        time.sleep(0.2)  # polling the guest, not synchronising
    time.sleep(1.0)  # let the coarse sampler settle at its 20 ms sleep (a stall at start-up would tighten it)

    t0 = time.monotonic()
    os.kill(guest.pid, signal.SIGSTOP)
    try:
        time.sleep(STOP_S)  # the fault's length
    finally:
        os.kill(guest.pid, signal.SIGCONT)
    stopped_ms = (time.monotonic() - t0) * 1000

    for method in caps:
        guest.check(f"p=$(cat /tmp/{method}.pid); i=0; while kill -0 $p 2>/dev/null && [ $i -lt 600 ]; "
                    f"do sleep 0.1; i=$((i+1)); done; ! kill -0 $p 2>/dev/null", timeout=120)
    docs = {m: guest_stalls(guest, out) for m, out in caps.items()}
    d = docs["bpf"][-1]
    if not d.get("available"):
        msg = f"eBPF stall method refused in the guest: {d.get('reason')}"
        if os.environ.get("HIDDENQ_REQUIRE_BPF") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    worst = {m: max((s["late_ns"] / 1e6 for x in v for s in x.get("stalls", [])), default=0.0)
             for m, v in docs.items()}
    # each saw the stop, about as long as the host kept QEMU stopped: the
    # timers due in it ran that late; the thread, its 20 ms sleep less
    assert stopped_ms * 0.8 <= worst["bpf"] <= stopped_ms + 200, (worst, stopped_ms)
    assert stopped_ms * 0.8 - 20 <= worst["coarse"] <= stopped_ms + 200, (worst, stopped_ms)
    assert all(x["method"] == "bpf" for x in docs["bpf"]), docs["bpf"][0]
    assert all(x["method"] == "coarse" for x in docs["coarse"]), docs["coarse"][0]
    timers = sum(x.get("timers", 0) for x in docs["bpf"])
    loops = sum(x.get("loops", 0) for x in docs["coarse"])
    assert timers > 0 and loops > 0, (timers, loops)

    # the same bundle through the analysis, on the host: below the guest (TCG has no steal)
    host_dir = guest.fetch_dir(caps["bpf"], tmp_path / "b-bpf")
    r = subprocess.run([str(harness.HIDDENQ_HOST), "diagnose", "--json", "--replay", str(host_dir)],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert r.returncode in (0, 1, 2), r.stderr[-2000:]
    doc = json.loads(r.stdout)
    f = next(x for x in doc["findings"] if x["id"] == "execution-stalls")
    assert f["severity"] in ("warn", "crit"), f
    worst_ev = next(e for e in f["evidence"] if e["metric"] == "stall_worst_ms")
    assert worst_ev["subject"] == "below the guest, not steal", worst_ev
    assert "eBPF timer lateness" in f["explain"], f["explain"]
    assert doc["capabilities"]["stalls"]["ok"] is True, doc["capabilities"]["stalls"]
