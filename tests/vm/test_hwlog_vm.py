"""hardware-errors through the real kernel-log reader, in a TCG guest whose
kernel logs a real hardware-class record: QMP inject-nmi makes the guest
kernel print "Uhhuh. NMI received for unknown reason .. on CPU 0." (an NMI
no driver claims, arch/x86/kernel/nmi.c), as a host's would for a BMC's NMI
or a guest's for an NMI its hypervisor injected.

`hiddenq diagnose` runs inside the guest (hiddenq-static, reading the
guest's /dev/kmsg):
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
"""
import json
import time

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


def finding(doc):
    return [f for f in doc["findings"] if f["id"] == "hardware-errors"][0]


@pytest.mark.vm
def test_injected_nmi_is_read_from_the_guests_kernel_log(guest):
    # a user's line that looks like an uncorrected memory error: not the kernel's, not counted
    guest.check("echo '<3>EDAC MC0: 1 UE memory read error on DIMM_A1 (page:0x1 offset:0x0 grain:8)' >/dev/kmsg")
    pid = diagnose_in_background(guest, 6)
    time.sleep(3)  # the reader has opened /dev/kmsg and drained the history by now
    guest.qmp.execute("inject-nmi")
    doc = wait_json(guest, pid)
    f = finding(doc)
    print(json.dumps(f, indent=1))
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
