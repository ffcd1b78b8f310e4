"""hiddenq lab --with-vm: the lab's VM half (scripts/labvm.py) boots one
TCG guest with tests/vm/harness.py.

IO stacking: the same QD=1 O_DIRECT probe on a file here and inside the
guest on a raw virtio-blk disk backed by that file (cache=none).  Under TCG
the difference is QEMU's emulation, and the lab must say so instead of
calling it a virtio cost; only that both figures exist and the label is
checked, no latency threshold (TCG timing means nothing).

Overcommit: a 160 MiB working-set spike in a 384 MiB guest completes, and
after the host balloons the guest to 128 MiB the same spike is OOM-killed
inside the guest (no swap there).  The balloon's effect on MemTotal is
exact, so that is asserted.

The whole lab runs (--quick), about 25 s here; the VM half is bounded by
the lab itself (45 s budget, then SIGTERM, SIGKILL 15 s later).
"""
import glob
import json
import os
import signal
import subprocess
import tempfile
import time

import pytest

from tests.vm import harness

ROOT = os.geteuid() == 0


def leftovers():
    return (glob.glob(os.path.join(os.environ.get("TMPDIR", "/var/tmp"), "hiddenq-lab-*"))
            + glob.glob(os.path.join(tempfile.gettempdir(), "hq-vm-*-hq-lab-*")))


def qemu_children():
    r = subprocess.run(["pgrep", "-f", "guest=hq-lab,"], capture_output=True, text=True)
    return [int(p) for p in r.stdout.split()]


@pytest.mark.vm
def test_lab_with_vm_quick():
    harness.need_vm_environment()
    harness.need_hiddenq()
    before = set(leftovers())
    qemu_before = set(qemu_children())
    t0 = time.monotonic()
    r = subprocess.run([str(harness.HIDDENQ_HOST), "lab", "--with-vm", "--quick", "--json"],
                       capture_output=True, timeout=120)
    elapsed = time.monotonic() - t0
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    doc = json.loads(r.stdout)
    # about 25 s here; the hard bound is the host half (~15 s) plus the VM
    # half's 45 s budget, with room for a machine shared with other VM tests
    assert elapsed < 90, elapsed
    assert doc["with_vm"] is True
    vm = doc["vm"]
    assert vm["ok"] is True, vm
    assert vm["accel"] == "tcg" and vm["qemu"]
    assert vm["driver"].endswith("scripts/labvm.py")
    exps = {x["id"]: x for x in doc["experiments"]}

    io = exps["io-layer-stacking"]
    assert io["status"] == "emulated", io
    c = io["result"]["comparison"]
    for k in ("host_file_p50_us", "host_file_p99_us", "guest_virtio_p50_us", "guest_virtio_p99_us"):
        assert c[k] > 0, (k, c)
    assert c["difference_p50_us"] == pytest.approx(c["guest_virtio_p50_us"] - c["host_file_p50_us"], abs=0.01)
    assert c["label"] == "emulated (TCG): not a virtio cost"
    assert "emulated (TCG): not a virtio cost" in io["measured"]
    disk = io["result"]["vm"]["disk"]
    assert disk["cache"] == "none" and disk["aio"] in ("native", "threads")
    if disk["aio"] == "threads":
        assert "aio_note" in disk
    guest = io["result"]["guest"]
    assert guest["target"] == "/dev/vda" and guest["block_device"] is True
    assert guest["o_direct"] is True and guest["queue_depth"] == 1
    assert guest["back_to_back"]["count"] > 0
    # the host side read the same file (since removed), read-only
    host = io["result"]
    assert host["created"] is False and host["o_direct"] is True
    assert os.path.basename(host["target"]) == "disk.raw" and host["target"] == disk["path"]
    assert io["needs"] and "KVM" in io["needs"]

    oc = exps["memory-overcommit"]
    vb = oc["result"]["vm_balloon"]
    assert vb["balloon_actual_mib"] == vb["balloon_target_mib"] == 128
    b, a = vb["before"], vb["after"]
    # the balloon takes exactly what it holds from the guest's MemTotal
    assert b["mem_total_mib"] - a["mem_total_mib"] == pytest.approx(vb["memory_mib"] - 128, abs=1)
    assert b["spike"]["outcome"] == "completed" and b["spike"]["reached_mib"] == vb["spike_mib"]
    assert a["spike"]["outcome"] == "OOM-killed", a["spike"]
    assert a["spike"]["reached_mib"] < vb["spike_mib"]
    assert vb["guest_oom_kill"] is True
    assert "ballooned to 128 MiB" in oc["measured"]
    if ROOT:
        assert oc["status"] == "measured" and oc["needs"] is None

    # nothing left behind: the disk file, the VM's work directory, QEMU
    assert set(leftovers()) - before == set()
    assert set(qemu_children()) - qemu_before == set()


@pytest.mark.vm
def test_lab_with_vm_says_what_is_missing(tmp_path):
    """A missing driver is reported as what the VM half would need, and the
    host half still runs."""
    harness.need_hiddenq()
    env = dict(os.environ, HIDDENQ_LAB_VM=str(tmp_path / "nope.py"))
    r = subprocess.run([str(harness.HIDDENQ_HOST), "lab", "--with-vm", "--quick", "--json",
                        "--only", "io-layer-stacking"], capture_output=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    doc = json.loads(r.stdout)
    assert doc["vm"]["ok"] is False and "nope.py" in doc["vm"]["error"]
    io = doc["experiments"][0]
    assert io["status"] == "partial" and "the VM half" in io["needs"]
    assert io["result"]["back_to_back"]["count"] > 0
    # a driver that cannot find QEMU says which package it needs
    env = dict(os.environ, HIDDENQ_VM_QEMU=str(tmp_path / "no-qemu"))
    r = subprocess.run([str(harness.HIDDENQ_HOST), "lab", "--with-vm", "--quick", "--json",
                        "--only", "memory-overcommit"], capture_output=True, timeout=60, env=env)
    doc = json.loads(r.stdout)
    assert doc["vm"]["ok"] is False and "qemu-system-x86" in doc["vm"]["error"], doc["vm"]
    assert "the balloon half" in (doc["experiments"][0]["needs"] or "")


@pytest.mark.vm
def test_lab_with_vm_ctrl_c_stops_the_vm():
    """Ctrl-C once the guest has booted (lab passes on the driver's
    progress lines, so the test waits for "booted", not for a time): lab
    stops the driver with SIGTERM, the driver kills QEMU by PID, and the
    disk file and the VM's work directory are gone."""
    harness.need_vm_environment()
    harness.need_hiddenq()
    before = set(leftovers())
    qemu_before = set(qemu_children())
    p = subprocess.Popen([str(harness.HIDDENQ_HOST), "lab", "--with-vm", "--quick", "--only",
                          "io-layer-stacking"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        booted = False
        for line in p.stderr:      # ends at EOF: lab exits at its own bound at worst
            if b"labvm: booted" in line:
                booted = True
                break
        assert booted, "the VM half never reported its boot"
        assert set(qemu_children()) - qemu_before, "no hq-lab QEMU while the guest is up"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=40)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    assert p.returncode == 0, err.decode()[-1000:]
    assert b"test VM: not run: interrupted" in out, out.decode()[-1000:]
    assert set(qemu_children()) - qemu_before == set()
    assert set(leftovers()) - before == set()
