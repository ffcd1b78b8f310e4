"""The disk images under a running QEMU (TCG) VM: its disk is a qcow2 image
on a raw backing file, made here with `qemu-img create -b`, opened by QEMU
through -blockdev (QEMU follows the backing file from the header itself).
`hiddenq vms` and `hiddenq audit` must show the format, the cache and IO
modes, and both layers with the filesystem and device each lives on, read
from the headers without qemu-img; `audit --check-images` must not check a
running VM's images (QEMU writes them meanwhile).  Nothing about IO speed is
measured: under TCG that is emulation.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.vm import harness
from tests.vm.harness import BlockDevice, VMSpec

HQ = os.environ.get("HIDDENQ_BIN", str(Path(__file__).resolve().parents[2] / "build" / "hiddenq"))


@pytest.fixture(scope="module")
def guest(request, tmp_path_factory):
    qemu_img = shutil.which("qemu-img")
    if not qemu_img:
        harness.unavailable("qemu-img not installed (Debian: qemu-utils)")
    if not Path(HQ).exists():
        harness.unavailable(f"{HQ} not built (make)")
    d = tmp_path_factory.mktemp("images")
    subprocess.run([qemu_img, "create", "-q", "-f", "raw", str(d / "base.raw"), "32M"], check=True, timeout=30)
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", str(d / "top.qcow2")],
                   check=True, timeout=30)
    spec = VMSpec(name="img-vm", memory_mib=192, hiddenq=False,
                  disks=[BlockDevice(fmt="qcow2", path=str(d / "top.qcow2"), cache="none", aio="threads")])
    vm = harness.boot(request, spec)
    vm.dir = d
    return vm


def hq(*args, timeout=90):
    r = subprocess.run([HQ, *args], capture_output=True, text=True, timeout=timeout)
    assert r.returncode in (0, 1, 2), r.stderr
    return r


@pytest.mark.vm
def test_vms_shows_the_chain_of_a_running_vm(guest):
    doc = json.loads(hq("vms", "--json", "--duration", "2", "--interval", "500ms").stdout)
    vm = [v for v in doc["vms"] if v["name"] == "img-vm"][0]
    disk = vm["disks"][0]
    assert (disk["format"], disk["cache"], disk["aio"]) == ("qcow2", "none", "threads"), disk
    c = disk["chain"]
    assert [(Path(l["file"]).name, l["format"]) for l in c["layers"]] == [("top.qcow2", "qcow2"), ("base.raw", "raw")]
    assert Path(c["layers"][1]["file"]) == guest.dir / "base.raw"  # resolved against the top's directory
    assert all(l["fs"] and "error" not in l for l in c["layers"]), c
    assert c["layers"][0]["disk"] == disk["backing"].get("disk", c["layers"][0]["disk"])
    text = hq("vms", "--duration", "1").stdout
    assert "image: qcow2, cache=none aio=threads; 2 layers: top.qcow2 (qcow2, " in text, text


@pytest.mark.vm
def test_audit_reads_the_chain_and_leaves_a_running_vms_images_alone(guest):
    doc = json.loads(hq("audit", "--json", "--check-images", timeout=180).stdout)
    vm = [v for v in doc["vms"] if v["name"] == "img-vm"][0]
    assert vm["disks"][0]["chain"]["depth"] == 2
    ch = [i for i in doc["items"] if i["id"] == "vm-disk-chain" and i["subject"].startswith("img-vm")]
    assert ch and ch[0]["evidence"].startswith("2 layers: top.qcow2 (qcow2, "), ch
    ck = [i for i in doc["items"] if i["id"] == "vm-image-check" and i["subject"].startswith("img-vm")]
    assert ck and ck[0]["result"] == "unknown" and f"running (PID {guest.pid})" in ck[0]["evidence"], ck
    assert not [c for c in doc.get("image_checks", []) if c["vm"] == "img-vm"]
