"""hardware-errors through the real kernel-log reader, in a TCG guest whose
kernel logs a real hardware-class record: QMP inject-nmi makes the guest
kernel print "Uhhuh. NMI received for unknown reason .. on CPU 0." (an NMI
no driver claims, arch/x86/kernel/nmi.c), as a host's would for a BMC's NMI
or a guest's for an NMI its hypervisor injected.

hiddenq runs inside the guest (hiddenq-static, reading the guest's
/dev/kmsg): `capture` records the watch, `diagnose --replay` judges it:
- an NMI injected during the watch is a warn, named with its CPU;
- the same record seen again by the next run is history: one level lower,
  ok, and quoted as from before the watch;
- a line that looks like an uncorrected memory error, written to /dev/kmsg
  by a user process (facility user), is not taken for one.

The other kinds (EDAC, machine checks, KVM entry failures, split locks, RT
throttling) cannot be made here: the guest's cloud kernel has no MCE or
EDAC support, TCG emulates no split-lock detection, and there is no KVM.
tests/unit/test_hwlog.c and tests/e2e/test_hwlog.py feed their formats,
written from the kernel's printk formats, through the same reader and the
replay.

The NMI is injected once the capture's first sample is on disk: the reader
opens /dev/kmsg and reads the ring's history before that sample is taken,
so the record cannot be taken for history (no sleep decides it).  Where the
guest's /dev/kmsg cannot be read, the test skips with hiddenq's own reason.
"""
import json

import pytest

from tests.vm import harness
from tests.vm.harness import VMSpec

SPEC = VMSpec(name="hwlog", memory_mib=320, hiddenq=True)


@pytest.fixture(scope="module")
def guest(request):
    harness.need_hiddenq()
    return harness.boot(request, SPEC)


def diagnose_in_background(guest, seconds):
    res = guest.run(f"hiddenq diagnose --json -d {seconds} --no-bpf >/tmp/d.json 2>/tmp/d.err </dev/null & echo $!",
                    timeout=20)
    return int(res.out.split()[-1])


def wait_json(guest, pid):
    res = guest.run(f"while kill -0 {pid} 2>/dev/null; do sleep 0.3; done; cat /tmp/d.json", timeout=90)
    assert res.rc == 0, res.err
    return json.loads(res.out)


def capture_in_background(guest, seconds):
    """A capture of the guest's kernel log (and little else); returns once its first sample is
    on disk, that is once the reader has opened /dev/kmsg and read the history."""
    res = guest.run("rm -rf /tmp/b; "
                    f"hiddenq capture -o /tmp/b -i 200ms -d {seconds}s --no-bpf --stalls off -q "
                    ">/tmp/c.out 2>/tmp/c.err </dev/null & pid=$!; "
                    "n=0; while [ ! -d /tmp/b/samples/000000 ] && kill -0 $pid 2>/dev/null && [ $n -lt 200 ]; do "
                    "sleep 0.05; n=$((n+1)); done; "
                    "[ -d /tmp/b/samples/000000 ] || { cat /tmp/c.err >&2; exit 9; }; echo $pid", timeout=30)
    assert res.rc == 0, res.err
    return int(res.out.split()[-1])


def replay_json(guest, pid):
    res = guest.run(f"while kill -0 {pid} 2>/dev/null; do sleep 0.2; done; "
                    "hiddenq diagnose --replay /tmp/b --json -q", timeout=90)
    assert res.rc in (0, 1, 2, 3), res.err
    return json.loads(res.out)


def finding(doc):
    return [f for f in doc["findings"] if f["id"] == "hardware-errors"][0]


@pytest.mark.vm
def test_injected_nmi_is_read_from_the_guests_kernel_log(guest):
    # a user's line that looks like an uncorrected memory error: not the kernel's, not counted
    guest.check("echo '<3>EDAC MC0: 1 UE memory read error on DIMM_A1 (page:0x1 offset:0x0 grain:8)' >/dev/kmsg")
    pid = capture_in_background(guest, 3)
    guest.qmp.execute("inject-nmi")
    doc = replay_json(guest, pid)
    f = finding(doc)
    print(json.dumps(f, indent=1))
    if f["severity"] == "unknown" and "could not be read" in f["title"]:
        harness.unavailable(f"hiddenq in the guest: {f['title']}")
    assert f["severity"] == "warn", f["title"]
    assert f["title"].startswith("unknown NMIs: 1 on CPU 0 during the watch"), f["title"]
    during = [e for e in f["evidence"] if e["metric"] == "hardware_log_during_watch"]
    assert during and "NMI received for unknown reason" in during[0]["labels"]["message"], during
    assert not any(e["labels"].get("kind", "").startswith("edac") for e in f["evidence"]), f["evidence"]
    assert any("inject-nmi" in n or "BMC" in n for n in f["next"]), f["next"]

    # the next run finds the record in the ring buffer's history: quoted, one level lower
    doc = wait_json(guest, diagnose_in_background(guest, 4))
    f = finding(doc)
    assert f["severity"] == "ok", f["title"]
    assert "logged before the watch" in f["title"], f["title"]
    before = [e for e in f["evidence"] if e["metric"] == "hardware_log_before_watch"]
    assert any(e["labels"]["kind"] == "nmi-unknown" for e in before), before
