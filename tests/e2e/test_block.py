"""Block latency on real things: a loop device over a file on this machine's
disk, throttled with the cgroup v1 blkio controller for a reader process in
a cgroup this test creates.

1. Throttle the loop device itself (blkio.throttle.read_iops_device on its
   MAJ:MIN): blk-throttle holds the reader's bios before they reach the loop
   device, so the loop device's await stays flat while the reader's own
   measured latency rises; hiddenq must say the time is above the block layer.
2. Throttle the loop device's backing disk instead, for the same cgroup (loop
   charges its worker's IO to the issuer's cgroup), with most of the backing
   file in the page cache: the loop device's issue->complete time turns
   bimodal (cached reads fast, the rest held at the disk below), and the
   finding must name the layer below.  This one needs the eBPF biolat source.

Everything (loop device, cgroup, reader processes, the file) is removed in a
finally; processes are killed by PID.  Needs root and cgroup v1 blkio.
"""
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import assert_no_crash, check_doc_shape, finding, kill_tree, run

BLKIO = "/sys/fs/cgroup/blkio"
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: loop devices and blkio cgroups"),
    pytest.mark.skipif(not os.path.exists(os.path.join(BLKIO, "blkio.throttle.read_iops_device")),
                       reason="no cgroup v1 blkio controller with throttling at /sys/fs/cgroup/blkio"),
]

READER = r"""
import json, mmap, os, random, sys, time
dev, secs, span, cg = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if cg != "-":
    with open(os.path.join(cg, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
lat = []
end = time.monotonic() + secs
rnd = random.Random(7)
while time.monotonic() < end:
    off = rnd.randrange(span // 4096) * 4096
    t = time.monotonic()
    os.preadv(fd, [buf], off)
    lat.append((time.monotonic() - t) * 1000)
lat.sort()
print(json.dumps({"n": len(lat), "mean_ms": sum(lat) / max(1, len(lat)),
                  "p50_ms": lat[len(lat) // 2] if lat else 0, "p99_ms": lat[int(len(lat) * 0.99)] if lat else 0}))
"""


def sh(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60, check=True, **kw)


def dev_of(name):
    with open(f"/sys/block/{name}/dev") as f:
        return f.read().strip()


def backing_disk(path):
    """The whole disk under a file (MAJ:MIN and name), from /sys/dev/block."""
    st = os.stat(path)
    mm = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    real = os.path.realpath(f"/sys/dev/block/{mm}")
    if os.path.exists(os.path.join(real, "partition")):
        real = os.path.dirname(real)
    with open(os.path.join(real, "dev")) as f:
        return f.read().strip(), os.path.basename(real)


@pytest.fixture
def loopdev(tmp_path_factory):
    if subprocess.run(["which", "losetup"], capture_output=True).returncode:
        pytest.skip("losetup missing: apt-get install util-linux")
    d = "/var/tmp"
    path = os.path.join(d, f"hq-loop-{os.getpid()}.img")
    size = 256 << 20
    loops, cgs = [], []
    try:
        with open(path, "wb") as f:
            chunk = os.urandom(1 << 20)
            for _ in range(size >> 20):
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        def attach(direct=False):
            args = ["losetup", "--find", "--show"] + (["--direct-io=on"] if direct else []) + [path]
            dev = sh(*args).stdout.strip()
            loops.append(dev)
            return dev
        def cgroup(tag):
            cg = os.path.join(BLKIO, f"hq-test-{os.getpid()}-{tag}")
            os.mkdir(cg)
            cgs.append(cg)
            return cg
        yield {"path": path, "size": size, "attach": attach, "cgroup": cgroup}
    finally:
        for dev in loops:
            subprocess.run(["losetup", "-d", dev], capture_output=True, timeout=30)
        for cg in cgs:
            for _ in range(50):
                try:
                    os.rmdir(cg)
                    break
                except OSError:
                    time.sleep(0.1)
        if os.path.exists(path):
            os.unlink(path)


def start_reader(dev, secs, span, cg="-"):
    return subprocess.Popen([sys.executable, "-c", READER, dev, str(secs), str(span), cg],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def reader_result(p, timeout):
    try:
        out, err = p.communicate(timeout=timeout)
    finally:
        kill_tree(p)
    assert p.returncode == 0, err
    return json.loads(out)


def disk_ev(f, metric, dev):
    v = [e["value"] for e in f["evidence"] if e["metric"] == metric and e.get("subject") == dev]
    return v[0] if v else None


def test_throttle_above_the_block_layer(hq, loopdev):
    dev = loopdev["attach"]()
    name = os.path.basename(dev)
    base = reader_result(start_reader(dev, 1.0, loopdev["size"]), 30)
    cg = loopdev["cgroup"]("above")
    with open(os.path.join(cg, "blkio.throttle.read_iops_device"), "w") as f:
        f.write(f"{dev_of(name)} 20\n")
    rd = start_reader(dev, 8.0, loopdev["size"], cg)
    try:
        time.sleep(1.0)
        res = run([hq, "diagnose", "--json", "-d", "5", "--no-stalls"], timeout=60)
        thr = reader_result(rd, 30)
    finally:
        kill_tree(rd)
    assert_no_crash(res)
    doc = res.json()
    check_doc_shape(doc)
    f = finding(doc, "io-layer-latency")
    assert f["failure_mode"] == 5
    # the reader's latency rose (20 IOPS: ~50 ms a read) ...
    assert thr["mean_ms"] >= 20, (base, thr)
    assert thr["mean_ms"] >= 5 * max(base["mean_ms"], 0.5), (base, thr)
    # ... while the loop device's own await stayed flat
    aw = disk_ev(f, "r_await_ms", name)
    assert aw is not None, f["evidence"]
    assert aw < 5 and aw < thr["mean_ms"] / 5, (aw, thr)
    assert disk_ev(f, "read_iops", name) > 5
    assert f["severity"] in ("warn", "crit"), f
    assert "above the block layer" in f["title"], f["title"]
    assert "throttl" in f["explain"]
    print(f"\nreader {base['mean_ms']:.2f} -> {thr['mean_ms']:.1f} ms, {name} r_await {aw:.3f} ms\n{f['title']}")


def test_throttled_backing_disk_turns_loop_bimodal(hq, loopdev):
    # the eBPF block-latency source must be there: ask diagnose itself
    probe = run([hq, "diagnose", "--json", "-d", "1"], timeout=60).json()
    cap = probe["capabilities"].get("eBPF", {})
    if "block" not in cap.get("detail", "") or "no block" in cap.get("detail", ""):
        pytest.skip(f"needs the eBPF biolat source (.hiddenq/biolat.json): {cap.get('detail', 'no eBPF capability')}")
    dev = loopdev["attach"]()
    name = os.path.basename(dev)
    disk_mm, disk = backing_disk(loopdev["path"])
    # 90 % of the backing file cached, the rest not: the loop reads from the page cache or from the disk
    fd = os.open(loopdev["path"], os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        cached = loopdev["size"] * 9 // 10
        off = 0
        while off < cached:
            off += len(os.pread(fd, 1 << 20, off))
    finally:
        os.close(fd)
    cg = loopdev["cgroup"]("below")
    with open(os.path.join(cg, "blkio.throttle.read_iops_device"), "w") as f:
        f.write(f"{disk_mm} 10\n")
    rd = start_reader(dev, 9.0, loopdev["size"], cg)
    try:
        time.sleep(1.0)
        res = run([hq, "diagnose", "--json", "-d", "6", "--no-stalls"], timeout=60)
        thr = reader_result(rd, 30)
    finally:
        kill_tree(rd)
    doc = res.json()
    f = finding(doc, "io-layer-latency")
    p50, p99 = disk_ev(f, "io_p50_ms", name), disk_ev(f, "io_p99_ms", name)
    assert p50 is not None and p99 is not None, f["evidence"]
    assert p99 / max(p50, 1e-3) >= 10, (p50, p99, thr)
    assert f["severity"] in ("warn", "crit"), f
    assert name in f["title"] and f"below {name}: its backing file" in f["title"], f["title"]
    print(f"\n{name} over {disk}: p50 {p50:.3f} ms p99 {p99:.1f} ms; reader {thr}\n{f['title']}")
