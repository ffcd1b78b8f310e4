"""Disk images under a VM, with images this test creates with qemu-img
(qemu-utils): `hiddenq audit` reads each image's header itself (no
qemu-img), follows the backing chain, says where each layer lives, and with
--check-images runs `qemu-img check` read-only on the layers of a VM that
does not run.  The VM is a libvirt domain XML (--xml --only-xml): a VM that
will not start, the case the check is for.  tests/vm/test_images_vm.py does
the same for a running QEMU.
"""
import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import run

QEMU_IMG = shutil.which("qemu-img")
pytestmark = pytest.mark.skipif(not QEMU_IMG, reason="qemu-img not installed (Debian: qemu-utils)")

DOMAIN = """<domain type='kvm'>
  <name>{name}</name>
  <memory unit='MiB'>512</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='{fmt}' cache='none' io='native'/>
      <source file='{file}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
"""


def img(*args):
    subprocess.run([QEMU_IMG, "create", "-q", *map(str, args)], check=True, timeout=30)


def domain(tmp, name, file, fmt="qcow2"):
    x = tmp / f"{name}.xml"
    x.write_text(DOMAIN.format(name=name, file=file, fmt=fmt))
    return x


def audit(hq, *args, env=None):
    r = run([hq, "audit", "--json", "--only-xml", *map(str, args)], env=env, timeout=180)
    assert r.returncode in (0, 1), repr(r)
    return json.loads(r.stdout)


def items(doc, item):
    return [i for i in doc["items"] if i["id"] == item]


def chain(doc):
    return doc["vms"][0]["disks"][0]["chain"]


def three_layers(tmp):
    img("-f", "raw", tmp / "base.raw", "16M")
    img("-f", "qcow2", "-b", "base.raw", "-F", "raw", tmp / "mid.qcow2")        # relative names, as
    img("-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", tmp / "top.qcow2")     # qemu-img writes them
    return tmp / "top.qcow2"


def test_chain_read_from_the_headers(hq, tmp_path):
    top = three_layers(tmp_path)
    doc = audit(hq, "--xml", domain(tmp_path, "db1", top))
    c = chain(doc)
    assert [(Path(l["file"]).name, l["format"]) for l in c["layers"]] == \
        [("top.qcow2", "qcow2"), ("mid.qcow2", "qcow2"), ("base.raw", "raw")], c
    assert c["depth"] == 3 and not c["loop"], c
    for l in c["layers"]:
        assert l["virtual_size"] == 16 << 20 and "error" not in l, l
        assert l["fs"], l  # the filesystem holding each layer
    assert c["layers"][0]["cluster_kib"] == 64
    # the same device for all three: no queue of their own, but three images' metadata
    assert c["layers_on_other_queues"] == 0
    it = items(doc, "vm-disk-chain")[0]
    assert it["result"] == "fail" and it["evidence"].startswith("3 layers: top.qcow2 (qcow2, "), it
    assert "3 images' metadata" in it["note"], it
    d = doc["vms"][0]["disks"][0]
    assert (d["format"], d["cache"], d["aio"]) == ("qcow2", "none", "native"), d
    # one layer: nothing to flatten
    img("-f", "qcow2", tmp_path / "solo.qcow2", "8M")
    doc = audit(hq, "--xml", domain(tmp_path, "solo", tmp_path / "solo.qcow2"))
    assert items(doc, "vm-disk-chain")[0]["result"] == "pass"
    assert chain(doc)["depth"] == 1


def test_layer_on_another_filesystem_is_a_queue_of_its_own(hq, tmp_path):
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.statvfs(shm).f_bavail * os.statvfs(shm).f_frsize < (64 << 20):
        pytest.skip("no tmpfs at /dev/shm with room")
    base = shm / f"hq-test-base-{os.getpid()}.raw"
    try:
        img("-f", "raw", base, "16M")
        img("-f", "qcow2", "-b", base, "-F", "raw", tmp_path / "top.qcow2")
        doc = audit(hq, "--xml", domain(tmp_path, "web1", tmp_path / "top.qcow2"))
    finally:
        base.unlink(missing_ok=True)
    c = chain(doc)
    assert [l["fs"] for l in c["layers"]][1] == "tmpfs", c
    if c["layers"][0]["fs"] == "tmpfs":
        pytest.skip("the test's directory is on tmpfs too")
    assert c["layers_on_other_queues"] == 1, c
    it = items(doc, "vm-disk-chain")[0]
    assert it["result"] == "fail" and "another device or filesystem" in it["note"], it


def test_a_raw_disks_bytes_are_never_taken_for_a_header(hq, tmp_path):
    """A guest writes what it likes into its raw disk, a qcow2 header naming a backing file
    included: configured raw, the file is one raw layer, and nothing it names is opened."""
    img("-f", "qcow2", "-b", "/etc/shadow", "-F", "raw", "-u", tmp_path / "guest-wrote.img", "16M")
    doc = audit(hq, "--xml", domain(tmp_path, "raw1", tmp_path / "guest-wrote.img", fmt="raw"))
    c = chain(doc)
    assert [l["format"] for l in c["layers"]] == ["raw"], c
    assert items(doc, "vm-disk-chain")[0]["result"] == "pass"


def test_a_loop_and_a_missing_layer(hq, tmp_path):
    img("-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", "-u", tmp_path / "a.qcow2", "8M")
    img("-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", "-u", tmp_path / "b.qcow2", "8M")
    doc = audit(hq, "--xml", domain(tmp_path, "loop", tmp_path / "a.qcow2"))
    c = chain(doc)
    assert c["loop"] and c["depth"] == 2 and "a loop" in c["layers"][1]["error"], c
    it = items(doc, "vm-disk-chain")[0]
    assert it["result"] == "fail" and "refuses to open it" in it["note"], it
    img("-f", "qcow2", "-b", "gone.raw", "-F", "raw", "-u", tmp_path / "orphan.qcow2", "8M")
    doc = audit(hq, "--xml", domain(tmp_path, "orphan", tmp_path / "orphan.qcow2"))
    c = chain(doc)
    assert c["depth"] == 2 and "cannot open" in c["layers"][1]["error"], c


def test_a_chain_longer_than_hiddenq_follows_says_so(hq, tmp_path):
    """17 layers (a raw base and 16 snapshots, as a backup tool that never flattens leaves them):
    the first 16 are read, and the evidence says there are more, not 16."""
    img("-f", "raw", tmp_path / "l00.raw", "8M")
    prev, fmt = "l00.raw", "raw"
    for k in range(1, 17):
        name = f"l{k:02d}.qcow2"
        img("-f", "qcow2", "-b", prev, "-F", fmt, tmp_path / name)
        prev, fmt = name, "qcow2"
    doc = audit(hq, "--xml", domain(tmp_path, "snap", tmp_path / prev))
    c = chain(doc)
    assert c["truncated"] and c["depth"] == 16 and not c["loop"], c
    assert Path(c["layers"][0]["file"]).name == "l16.qcow2" and Path(c["layers"][15]["file"]).name == "l01.qcow2"
    it = items(doc, "vm-disk-chain")[0]
    assert it["result"] == "fail" and it["evidence"].startswith("more than 16 layers: l16.qcow2 (qcow2, "), it
    assert "goes on past the 16 layers" in it["note"], it
    # one layer fewer: all of it, no "more than"
    doc = audit(hq, "--xml", domain(tmp_path, "snap", tmp_path / "l15.qcow2"))
    c = chain(doc)
    assert not c["truncated"] and c["depth"] == 16 and c["layers"][-1]["format"] == "raw", c
    assert items(doc, "vm-disk-chain")[0]["evidence"].startswith("16 layers: "), doc


def corrupt(path):
    """Set the refcount of cluster 0 (the header) to 0: a corruption qemu-img check reports."""
    with open(path, "r+b") as f:
        h = f.read(104)
        rt = struct.unpack(">Q", h[48:56])[0]
        f.seek(rt)
        rb = struct.unpack(">Q", f.read(8))[0]
        f.seek(rb)
        f.write(struct.pack(">H", 0))


def test_check_images_runs_qemu_img_check_read_only(hq, tmp_path):
    top = three_layers(tmp_path)
    corrupt(tmp_path / "mid.qcow2")
    before = (tmp_path / "mid.qcow2").read_bytes()
    doc = audit(hq, "--xml", domain(tmp_path, "db1", top), "--check-images")
    assert (tmp_path / "mid.qcow2").read_bytes() == before  # read-only: nothing repaired
    checks = {Path(c["file"]).name: c for c in doc["image_checks"]}
    assert set(checks) == {"top.qcow2", "mid.qcow2"}, checks  # raw has nothing to check
    assert checks["top.qcow2"]["exit"] == 0 and checks["top.qcow2"]["corruptions"] == 0
    assert checks["mid.qcow2"]["exit"] == 2 and checks["mid.qcow2"]["corruptions"] == 1, checks
    res = {Path(i["subject"].split(" ", 1)[1]).name: i for i in items(doc, "vm-image-check")}
    assert res["top.qcow2"]["result"] == "pass"
    assert res["mid.qcow2"]["result"] == "fail" and "1 corruption" in res["mid.qcow2"]["evidence"], res
    # without qemu-img: said, not guessed
    env = dict(os.environ, HIDDENQ_QEMU_IMG="/nonexistent/qemu-img")
    doc = audit(hq, "--xml", domain(tmp_path, "db1", top), "--check-images", env=env)
    it = items(doc, "vm-image-check")[0]
    assert it["result"] == "unknown" and "qemu-img is not installed" in it["evidence"], it
    # not asked: no check, no item
    doc = audit(hq, "--xml", domain(tmp_path, "db1", top))
    assert not items(doc, "vm-image-check") and "image_checks" not in doc
