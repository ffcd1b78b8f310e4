"""Real test VMs for hiddenq: QEMU (TCG) guests described in code.

A test describes a guest with a VMSpec (memory, -smp topology, NUMA nodes
and distances, virtio-net / virtio-blk / virtio-balloon devices, a name,
CPU affinity for the QEMU process), boots it with VM.start(), runs shell
commands inside with VM.run() and gets stdout, stderr and the exit status
back, copies guest directories out with VM.fetch_dir(), and drives QEMU
through the QMP socket it owns (VM.qmp).

How it works
  * The guest runs the Debian cloud kernel (/boot/vmlinuz-*, found by glob)
    and an initramfs this module builds itself: busybox-static, the virtio
    modules resolved from modules.dep, the hiddenq static binary when it
    exists (build/hiddenq-static), and a small init plus a shell agent.
    The base archive is cached under build/vm-cache/ keyed on a hash of all
    its inputs; each VM appends a small per-VM archive (config + hook),
    which the kernel unpacks on top.
  * Commands travel over a virtio-serial port ("hq.agent"), not over the
    guest's network: QEMU connects that port to a unix socket the harness
    listens on.  QMP works the same way.  The guest's console (ttyS0) goes
    to a log file that error messages quote.
  * Every wait has a deadline and wakes on data or on QEMU's exit (pidfd);
    nothing sleeps to synchronise.  VM.stop() kills QEMU by PID (SIGTERM,
    then SIGKILL), deletes the network namespace it created and removes its
    work directory; VM is a context manager and tests use fixtures with
    finalizers, so this also happens on failure.  If the test process dies,
    QEMU gets SIGKILL from the kernel (PR_SET_PDEATHSIG).

What a TCG guest cannot pretend (say so in tests that use it)
  * No steal: TCG has no steal-time interface; /proc/stat steal stays 0
    and the guest cannot tell it is being descheduled.
  * NUMA nodes are labels: the topology and SLIT distances are what we
    asked for, but remote memory costs exactly as much as local memory.
  * IO and network cost is emulation: every virtqueue kick runs QEMU's
    device model in software, so latencies measure TCG, not virtio, not a
    host block layer and not a NIC.
  * Timing in general is slow and noisy (clocksource hpet, TSC unstable).

Importing: the canonical name is ``tests.vm.harness`` with the repository
root on sys.path (``/usr/bin/python3 -m pytest`` from the top does that;
tests/vm/conftest.py also inserts it).  See docs/vm-harness.md.

Standard library only.
"""

from __future__ import annotations

import base64
import ctypes
import dataclasses
import glob
import hashlib
import io
import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = REPO_ROOT / "build"
CACHE_DIR = Path(os.environ.get("HIDDENQ_VM_CACHE", BUILD_DIR / "vm-cache"))
HIDDENQ_STATIC = Path(os.environ.get("HIDDENQ_STATIC", BUILD_DIR / "hiddenq-static"))
HIDDENQ_HOST = Path(os.environ.get("HIDDENQ_BIN", BUILD_DIR / "hiddenq"))

AGENT_PORT_NAME = "hq.agent"
# Bump when the layout of the base initramfs or the agent protocol changes.
INITRAMFS_FORMAT = "hq-initramfs/4"

# Kernel modules the guest needs (dependencies come from modules.dep).
GUEST_MODULES = ("virtio_pci", "virtio_net", "virtio_blk", "virtio_balloon",
                 "virtio_console")

TCG_LIMITS = (
    "TCG guest: no steal time (steal stays 0), NUMA nodes have no latency "
    "penalty, and IO/network cost is QEMU's emulation, not virtio."
)


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

class VMError(Exception):
    """The VM failed (QEMU exited, protocol error, ...)."""


class VMUnavailable(VMError):
    """Something the harness needs is missing on this machine (QEMU, the
    kernel, its modules, busybox-static, the hiddenq static binary)."""


class VMTimeout(VMError):
    """A deadline passed; the VM has been killed."""


class BootTimeout(VMTimeout):
    """The guest never answered within spec.boot_timeout."""


class CommandTimeout(VMTimeout):
    """A command inside the guest did not finish in time."""


# --------------------------------------------------------------------------
# VM description
# --------------------------------------------------------------------------

@dataclass
class NumaNode:
    """One guest NUMA node: the vCPU indexes it holds and its memory."""
    cpus: str          # QEMU cpu index list, e.g. "0-3" or "0-1,4-5"
    mem_mib: int


@dataclass
class Topology:
    sockets: int = 1
    cores: int = 1
    threads: int = 1
    nodes: List[NumaNode] = field(default_factory=list)
    # distances[i][j]; None = QEMU's default (10 local / 20 remote).
    distances: Optional[List[List[int]]] = None

    @property
    def cpus(self) -> int:
        return self.sockets * self.cores * self.threads


@dataclass
class NetDevice:
    """virtio-net.  mode "user": QEMU user networking with restrict=on (no
    traffic leaves QEMU).  mode "tap": a multi-queue tap device inside a
    private network namespace the VM creates and deletes; the host side of
    the tap gets host_ip, the guest interface guest_ip."""
    mode: str = "user"            # "user" | "tap"
    queues: int = 1
    # user mode only: (host port, guest port) TCP forwards, the host end on
    # 127.0.0.1 (QEMU hostfwd; restrict=on still lets them through)
    hostfwd: Sequence[Tuple[int, int]] = ()
    guest_ip: Optional[str] = "10.0.2.15/24"
    host_ip: str = "10.0.2.1/24"  # tap mode only, inside the namespace
    mac: Optional[str] = None


@dataclass
class BlockDevice:
    """virtio-blk on a file the VM creates in its work directory (or on
    `path` if given, which is then left alone)."""
    size_mib: int = 64
    fmt: str = "raw"              # "raw" | "qcow2" (needs qemu-img)
    cache: str = "writeback"      # none | writeback | writethrough | directsync | unsafe
    num_queues: int = 1
    path: Optional[str] = None
    serial: Optional[str] = None
    # QEMU's aio= for the file node: None (QEMU's default, threads),
    # "threads", "native" (Linux AIO: needs cache none or directsync) or
    # "io_uring".  harness.probe_aio() says which this QEMU accepts.
    aio: Optional[str] = None


@dataclass
class VMSpec:
    name: str = "hq-guest"
    memory_mib: int = 256
    topology: Topology = field(default_factory=Topology)
    net: List[NetDevice] = field(default_factory=list)
    disks: List[BlockDevice] = field(default_factory=list)
    balloon: bool = False
    affinity: Optional[Sequence[int]] = None   # host CPUs for the QEMU process
    boot_timeout: float = 60.0
    command_timeout: float = 60.0
    # True: hiddenq must be in the guest (VMUnavailable if the static binary
    # is missing); False: leave it out; None: include it when it exists.
    hiddenq: Optional[bool] = None
    init_script: str = ""         # shell run by init before the agent starts
    kernel_args: str = ""
    extra_files: Dict[str, bytes] = field(default_factory=dict)  # guest path -> content
    # The default CPU model is qemu64 with an Intel vendor string: with an
    # AMD vendor (qemu64 and max under TCG) Linux needs topoext to see SMT
    # siblings and reports threads=2 as separate cores; with GenuineIntel it
    # reads CPUID leaf 0xB and gets sockets/cores/threads right.
    cpu_model: Optional[str] = "qemu64,vendor=GenuineIntel"
    machine: str = "pc"
    # True: a second QMP server socket (-qmp unix:PATH,server=on,wait=off)
    # that the harness never connects to, for a test or a tool of its own
    # (hiddenq probe dirty --qmp, hiddenq vms): VM.extra_qmp_path.  The
    # harness keeps the first one (VM.qmp).  One client at a time.
    extra_qmp: bool = False
    uuid: Optional[str] = None    # -uuid: the SMBIOS system UUID the guest reads (product_uuid)
    qemu: Optional[str] = None    # default: qemu-system-x86_64 on PATH
    kernel: Optional[str] = None  # default: newest /boot/vmlinuz-*, cloud preferred

    def validate(self) -> None:
        t = self.topology
        if t.nodes:
            total = sum(n.mem_mib for n in t.nodes)
            if total != self.memory_mib:
                raise ValueError(f"NUMA node memory adds up to {total} MiB, "
                                 f"memory_mib is {self.memory_mib}")
            if t.distances is not None:
                n = len(t.nodes)
                if len(t.distances) != n or any(len(r) != n for r in t.distances):
                    raise ValueError("distances must be an N x N matrix")
        for d in self.net:
            if d.mode not in ("user", "tap"):
                raise ValueError(f"unknown net mode {d.mode!r}")
            if d.mode == "user" and d.queues != 1:
                raise ValueError("multi-queue virtio-net needs mode='tap'")
            if d.hostfwd and d.mode != "user":
                raise ValueError("hostfwd needs mode='user'")
        for b in self.disks:
            if b.fmt not in ("raw", "qcow2"):
                raise ValueError(f"unknown disk format {b.fmt!r}")
            if b.aio not in (None, "threads", "native", "io_uring"):
                raise ValueError(f"unknown aio mode {b.aio!r}")
            if b.aio == "native" and b.cache not in ("none", "directsync"):
                raise ValueError("aio='native' needs cache='none' or 'directsync'")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,40}", self.name):
            raise ValueError(f"bad VM name {self.name!r}")


@dataclass
class CommandResult:
    command: str
    rc: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "replace")

    def check(self) -> "CommandResult":
        if self.rc != 0:
            raise VMError(f"guest command failed with exit {self.rc}: {self.command!r}\n"
                          f"stdout: {self.out[-2000:]}\nstderr: {self.err[-2000:]}")
        return self


# --------------------------------------------------------------------------
# Finding the pieces on this machine
# --------------------------------------------------------------------------

def _version_key(v: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"[.\-+]", v)]


def find_qemu(explicit: Optional[str] = None) -> str:
    q = explicit or os.environ.get("HIDDENQ_VM_QEMU") or shutil.which("qemu-system-x86_64")
    if not q or not os.access(q, os.X_OK):
        raise VMUnavailable(
            f"QEMU not found ({q or 'qemu-system-x86_64 not on PATH'}); "
            "install the Debian package qemu-system-x86")
    return q


def find_kernel(explicit: Optional[str] = None) -> Tuple[Path, Path]:
    """Return (vmlinuz, /lib/modules/VERSION) for the guest kernel."""
    explicit = explicit or os.environ.get("HIDDENQ_VM_KERNEL")
    if explicit:
        k = Path(explicit)
        if not k.is_file():
            raise VMUnavailable(f"guest kernel {k} does not exist")
        ver = k.name[len("vmlinuz-"):] if k.name.startswith("vmlinuz-") else ""
        mods = Path(os.environ.get("HIDDENQ_VM_MODULES", f"/lib/modules/{ver}"))
        if not (mods / "modules.dep").is_file():
            raise VMUnavailable(f"no modules.dep for guest kernel {k} (looked in {mods})")
        return k, mods
    cands = []
    for k in glob.glob("/boot/vmlinuz-*"):
        ver = os.path.basename(k)[len("vmlinuz-"):]
        mods = Path("/lib/modules") / ver
        if (mods / "modules.dep").is_file():
            cands.append((("cloud" in ver), _version_key(ver), Path(k), mods))
    if not cands:
        raise VMUnavailable(
            "no guest kernel: need /boot/vmlinuz-* with /lib/modules/<version>/modules.dep; "
            "install the Debian package linux-image-cloud-amd64")
    cands.sort(key=lambda c: (c[0], c[1]))
    return cands[-1][2], cands[-1][3]


def find_busybox() -> Path:
    for p in (os.environ.get("HIDDENQ_VM_BUSYBOX"), "/bin/busybox", "/usr/bin/busybox"):
        if p and os.path.isfile(p):
            if not is_static_elf(p):
                raise VMUnavailable(f"{p} is dynamically linked; install busybox-static")
            return Path(p)
    raise VMUnavailable("busybox not found; install the Debian package busybox-static")


def is_static_elf(path) -> bool:
    """True when `path` is an ELF file without a program interpreter."""
    with open(path, "rb") as f:
        hdr = f.read(64)
        if hdr[:4] != b"\x7fELF" or hdr[4] != 2:   # 64-bit only
            return False
        phoff, = struct.unpack_from("<Q", hdr, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", hdr, 0x36)
        f.seek(phoff)
        ph = f.read(phentsize * phnum)
    for i in range(phnum):
        ptype, = struct.unpack_from("<I", ph, i * phentsize)
        if ptype == 3:   # PT_INTERP
            return False
    return True


def hiddenq_static_problem() -> Optional[str]:
    """None when build/hiddenq-static is usable in a guest, else why not."""
    p = HIDDENQ_STATIC
    if not p.is_file():
        return f"{p} is missing: run `make static` first"
    if not is_static_elf(p):
        return f"{p} is not a static x86-64 ELF binary"
    return None


def check_environment() -> List[str]:
    """Everything missing for booting a VM here (empty list = all present)."""
    problems = []
    for probe in (find_qemu, find_kernel, find_busybox):
        try:
            probe()
        except VMUnavailable as e:
            problems.append(str(e))
    return problems


def probe_aio(path: str, aio: str, cache_direct: bool = True,
              qemu: Optional[str] = None, timeout: float = 10.0) -> Optional[str]:
    """None when this QEMU opens the file `path` with aio=`aio` (and
    cache.direct), else QEMU's error.  Runs QEMU without a machine
    (-machine none) and quits it over QMP on stdio: well under a second."""
    q = find_qemu(qemu)
    cmd = [q, "-machine", "none", "-nodefaults", "-display", "none", "-qmp", "stdio",
           "-blockdev", f"driver=file,node-name=f,filename={path},"
           f"cache.direct={'on' if cache_direct else 'off'},aio={aio}"]
    try:
        r = subprocess.run(cmd, input=b'{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
                           capture_output=True, timeout=timeout,
                           preexec_fn=_child_setup(None))
    except subprocess.TimeoutExpired:
        return f"QEMU did not quit within {timeout:.0f} s"
    if r.returncode == 0 and b'"return"' in r.stdout:
        return None
    return (r.stderr.decode(errors="replace").strip() or f"exit status {r.returncode}")[-500:]


def resolve_modules(moddir: Path, names: Sequence[str]) -> List[Path]:
    """Module files for `names` and their dependencies, in load order
    (every module after the modules it depends on), from modules.dep."""
    deps: Dict[str, List[str]] = {}
    by_name: Dict[str, str] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        if ":" not in line:
            continue
        mod, rest = line.split(":", 1)
        deps[mod] = rest.split()
        base = os.path.basename(mod).split(".ko")[0].replace("-", "_")
        by_name[base] = mod
    builtin = set()
    bf = moddir / "modules.builtin"
    if bf.is_file():
        builtin = {os.path.basename(l).split(".ko")[0].replace("-", "_")
                   for l in bf.read_text().split()}
    order: List[str] = []
    state: Dict[str, int] = {}

    def visit(mod: str) -> None:
        if state.get(mod) == 2:
            return
        if state.get(mod) == 1:
            raise VMError(f"dependency cycle at {mod}")
        state[mod] = 1
        for d in deps.get(mod, []):
            visit(d)
        state[mod] = 2
        order.append(mod)

    for n in names:
        key = n.replace("-", "_")
        if key in by_name:
            visit(by_name[key])
        elif key not in builtin:
            raise VMUnavailable(f"kernel module {n} not found in {moddir}/modules.dep")
    return [moddir / m for m in order]


def _module_bytes(path: Path) -> Tuple[str, bytes]:
    """(name.ko, uncompressed content) for a .ko, .ko.xz or .ko.gz file."""
    data = path.read_bytes()
    name = path.name
    if name.endswith(".ko.xz"):
        import lzma
        data, name = lzma.decompress(data), name[:-3]
    elif name.endswith(".ko.gz"):
        import gzip
        data, name = gzip.decompress(data), name[:-3]
    elif name.endswith(".ko.zst"):
        raise VMUnavailable(f"{path}: zstd-compressed modules are not supported")
    return name, data


# --------------------------------------------------------------------------
# initramfs (cpio newc, written in Python: no cpio package needed)
# --------------------------------------------------------------------------

class Cpio:
    """Writer for the 'newc' cpio format the kernel unpacks."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.ino = 1000
        self.seen = set()

    def _entry(self, name: str, mode: int, data: bytes = b"",
               rdev: Tuple[int, int] = (0, 0)) -> None:
        name = name.lstrip("/")
        self.ino += 1
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08X}" for v in (
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
            len(nb), 0))
        self.buf.write(hdr.encode() + nb)
        self.buf.write(b"\0" * (-(110 + len(nb)) % 4))
        self.buf.write(data)
        self.buf.write(b"\0" * (-len(data) % 4))

    def dir(self, path: str) -> None:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            p = "/".join(parts[:i])
            if p and p not in self.seen:
                self.seen.add(p)
                self._entry(p, stat.S_IFDIR | 0o755)

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self.dir(os.path.dirname(path.strip("/")))
        self._entry(path, stat.S_IFREG | mode, data)

    def symlink(self, path: str, target: str) -> None:
        self.dir(os.path.dirname(path.strip("/")))
        self._entry(path, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        self.dir(os.path.dirname(path.strip("/")))
        self._entry(path, stat.S_IFCHR | mode, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        data = self.buf.getvalue()
        return data + b"\0" * (-len(data) % 512)


# The init: mounts, loads modules, configures the network, runs the VM's
# hook, then hands over to the agent.  Per-VM settings come from
# /etc/hq/vm.conf (appended archive).
INIT_SH = r"""#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /sys/kernel/debug /sys/fs/cgroup /dev/pts
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mount -t devpts devpts /dev/pts 2>/dev/null
. /etc/hq/vm.conf
hostname "$HQ_HOSTNAME"
echo "HQ-INIT modules"
while read -r m; do
    insmod "/lib/hq-modules/$m" || echo "HQ-INIT insmod $m failed"
done < /lib/hq-modules/order
ip link set lo up
for spec in $HQ_NET; do
    dev=${spec%%=*}; addr=${spec#*=}
    ip link set "$dev" up && ip addr add "$addr" dev "$dev" || echo "HQ-INIT net $spec failed"
done
if [ -f /etc/hq/hook.sh ]; then
    echo "HQ-INIT hook"
    sh /etc/hq/hook.sh
fi
port=""
i=0
while [ -z "$port" ] && [ $i -lt 400 ]; do
    for d in /sys/class/virtio-ports/*; do
        [ -f "$d/name" ] && [ "$(cat "$d/name")" = "hq.agent" ] && [ -c "/dev/${d##*/}" ] && port="/dev/${d##*/}"
    done
    [ -z "$port" ] && usleep 25000
    i=$((i + 1))
done
if [ -z "$port" ]; then
    echo "HQ-INIT FATAL: no virtio-serial port named hq.agent"
    poweroff -f
fi
echo "HQ-INIT agent on $port"
sh /etc/hq/agent.sh "$port"
echo "HQ-INIT agent exited; powering off"
poweroff -f
"""

# The agent reads one request line at a time:
#   RUN <id> <base64 script>      run it with sh, cwd /, stdin /dev/null
#   PUT <id> <base64 path> <n>    followed by n raw bytes: write them to path
#   QUIT                          leave (init then powers off)
# and answers "HQ-RESULT <id> <rc> <stdout bytes> <stderr bytes>\n", the
# stdout bytes, the stderr bytes, "HQ-END <id>\n".  Data is raw bytes: the
# port is not a tty.  dd with iflag=fullblock reads exactly n bytes, because
# read() on the port never returns more than asked for.
AGENT_SH = r"""port=$1
set -f
mkdir -p /tmp/hq
exec 3<>"$port"
printf 'HQ-READY %s\n' "$(cut -d' ' -f1 /proc/uptime)" >&3
reply() {
    printf 'HQ-RESULT %s %s %s %s\n' "$1" "$2" "$(stat -c %s /tmp/hq/out)" "$(stat -c %s /tmp/hq/err)" >&3
    cat /tmp/hq/out /tmp/hq/err >&3
    printf 'HQ-END %s\n' "$1" >&3
}
while IFS= read -r line <&3; do
    set -- $line
    case "$1" in
    PUT)
        id=$2
        path=$(printf '%s' "$3" | base64 -d)
        : >/tmp/hq/out
        if [ "$4" -gt 0 ]; then
            dd of="$path" bs="$4" count=1 iflag=fullblock <&3 2>/tmp/hq/err
        else
            : >"$path" 2>/tmp/hq/err
        fi
        rc=$?
        [ $rc -eq 0 ] && : >/tmp/hq/err
        reply "$id" $rc
        ;;
    RUN)
        id=$2
        printf '%s' "$3" | base64 -d > /tmp/hq/cmd.sh
        (cd / && sh /tmp/hq/cmd.sh) </dev/null >/tmp/hq/out 2>/tmp/hq/err
        reply "$id" $?
        ;;
    QUIT)
        exit 0
        ;;
    esac
done
"""


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_base_initramfs(moddir: Path, with_hiddenq: bool,
                         cache_dir: Path = CACHE_DIR) -> Path:
    """The shared part of every guest's initramfs, cached on its inputs."""
    busybox = find_busybox()
    mods = resolve_modules(moddir, GUEST_MODULES)
    key = hashlib.sha256()
    key.update(INITRAMFS_FORMAT.encode())
    key.update(INIT_SH.encode())
    key.update(AGENT_SH.encode())
    key.update(_sha256_file(busybox).encode())
    for m in mods:
        key.update(str(m).encode())
        key.update(_sha256_file(m).encode())
    if with_hiddenq:
        problem = hiddenq_static_problem()
        if problem:
            raise VMUnavailable(problem)
        key.update(b"hiddenq" + _sha256_file(HIDDENQ_STATIC).encode())
    out = cache_dir / f"initramfs-{key.hexdigest()[:20]}.cpio"
    if out.is_file():
        return out
    c = Cpio()
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc/hq", "proc", "sys",
              "tmp", "run", "root", "var/tmp", "lib/hq-modules", "dev"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/null", 1, 3, 0o666)
    c.file("bin/busybox", busybox.read_bytes(), 0o755)
    c.symlink("bin/sh", "busybox")
    c.file("init", INIT_SH.encode(), 0o755)
    c.file("etc/hq/agent.sh", AGENT_SH.encode(), 0o755)
    names = []
    for m in mods:
        name, data = _module_bytes(m)
        c.file(f"lib/hq-modules/{name}", data)
        names.append(name)
    c.file("lib/hq-modules/order", ("\n".join(names) + "\n").encode())
    if with_hiddenq:
        c.file("bin/hiddenq", HIDDENQ_STATIC.read_bytes(), 0o755)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(c.finish())
    os.replace(tmp, out)
    _prune_cache(cache_dir, keep=6)
    return out


def _prune_cache(cache_dir: Path, keep: int) -> None:
    """Drop all but the `keep` newest cached archives (each hiddenq
    rebuild makes a new one)."""
    old = sorted(cache_dir.glob("initramfs-*.cpio"), key=lambda p: p.stat().st_mtime)
    for p in old[:-keep]:
        try:
            p.unlink()
        except OSError:
            pass


def _vm_archive(spec: VMSpec, net_conf: str) -> bytes:
    """The per-VM archive, unpacked by the kernel on top of the base."""
    c = Cpio()
    conf = (f"HQ_HOSTNAME='{spec.name}'\n"
            f"HQ_NET='{net_conf}'\n")
    c.file("etc/hq/vm.conf", conf.encode())
    if spec.init_script:
        c.file("etc/hq/hook.sh", spec.init_script.encode(), 0o755)
    for path, data in spec.extra_files.items():
        c.file(path, data, 0o755)
    return c.finish()


# --------------------------------------------------------------------------
# Waiting on sockets with deadlines (and noticing QEMU's death)
# --------------------------------------------------------------------------

class _Chan:
    """A buffered reader over a connected socket that gives up at a
    deadline or when the watched process exits."""

    def __init__(self, sock: socket.socket, vm: "VM", what: str) -> None:
        self.sock = sock
        self.vm = vm
        self.what = what
        self.buf = bytearray()

    def _fill(self, deadline: float, exc) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise exc(f"{self.what}: timed out")
        fds = [self.sock]
        if self.vm._pidfd is not None:
            fds.append(self.vm._pidfd)
        r, _, _ = select.select(fds, [], [], remaining)
        if self.sock in r:
            try:
                data = self.sock.recv(1 << 16)
            except OSError as e:
                raise VMError(f"{self.what}: {e}" + self.vm._exit_note()) from None
            if not data:
                raise VMError(f"{self.what}: connection closed by QEMU"
                              + self.vm._exit_note())
            self.buf += data
            return
        if r:
            raise VMError(f"{self.what}: QEMU exited" + self.vm._exit_note())
        raise exc(f"{self.what}: timed out")

    def read_line(self, deadline: float, exc=VMTimeout) -> bytes:
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 1]
                return line
            self._fill(deadline, exc)

    def read_exact(self, n: int, deadline: float, exc=VMTimeout) -> bytes:
        while len(self.buf) < n:
            self._fill(deadline, exc)
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise VMError(f"{self.what}: {e}" + self.vm._exit_note()) from None


def _accept(lsock: socket.socket, vm: "VM", deadline: float, what: str) -> socket.socket:
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BootTimeout(f"QEMU did not connect its {what} socket in time")
        fds = [lsock] + ([vm._pidfd] if vm._pidfd is not None else [])
        r, _, _ = select.select(fds, [], [], remaining)
        if lsock in r:
            conn, _ = lsock.accept()
            return conn
        if r:
            raise VMError(f"QEMU exited before connecting its {what} socket"
                          + vm._exit_note())


# --------------------------------------------------------------------------
# QMP
# --------------------------------------------------------------------------

class QMP:
    """A small QMP client on the socket QEMU connected to."""

    def __init__(self, chan: _Chan) -> None:
        self.chan = chan
        self.events: List[dict] = []
        self._id = 0

    def _read_msg(self, deadline: float) -> dict:
        line = self.chan.read_line(deadline)
        return json.loads(line)

    def handshake(self, deadline: float) -> dict:
        greeting = self._read_msg(deadline)
        if "QMP" not in greeting:
            raise VMError(f"unexpected QMP greeting {greeting!r}")
        self.execute("qmp_capabilities", timeout=max(1.0, deadline - time.monotonic()))
        return greeting

    def execute(self, cmd: str, args: Optional[dict] = None, timeout: float = 10.0):
        """Run a QMP command; return its "return" value or raise VMError."""
        self._id += 1
        msg = {"execute": cmd, "id": self._id}
        if args:
            msg["arguments"] = args
        self.chan.send(json.dumps(msg).encode() + b"\n")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_msg(deadline)
            if "event" in reply:
                self.events.append(reply)
                del self.events[:-1000]
                continue
            if reply.get("id") != self._id:
                continue
            if "error" in reply:
                raise VMError(f"QMP {cmd} failed: {reply['error']}")
            return reply.get("return")

    def wait_event(self, name: str, timeout: float, pred=None) -> dict:
        """Return the first (queued or new) event `name` for which
        pred(event["data"]) is true."""
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev.get("event") == name and (pred is None or pred(ev.get("data", {}))):
                    del self.events[: i + 1]
                    return ev
            self.events.clear()
            msg = self._read_msg(deadline)
            if "event" in msg:
                self.events.append(msg)

    # Helpers -------------------------------------------------------------
    def query_balloon(self) -> int:
        """The guest's current size according to the balloon, in bytes."""
        return int(self.execute("query-balloon")["actual"])

    def balloon(self, target_bytes: int) -> None:
        """Ask the guest to shrink/grow to target_bytes (does not wait)."""
        self.execute("balloon", {"value": int(target_bytes)})

    def query_blockstats(self) -> List[dict]:
        return self.execute("query-blockstats")

    def quit(self) -> None:
        try:
            self.execute("quit", timeout=5.0)
        except VMError:
            pass   # QEMU may close the socket before answering


# --------------------------------------------------------------------------
# Network namespace
# --------------------------------------------------------------------------

def _ip(*args: str) -> None:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        raise VMError(f"ip {' '.join(args)} failed: {r.stderr.strip()}")


class NetNS:
    """A private network namespace this harness created (and deletes)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.created = False

    def create(self) -> "NetNS":
        _ip("netns", "add", self.name)
        self.created = True
        _ip("-n", self.name, "link", "set", "lo", "up")
        return self

    def add_tap(self, dev: str, queues: int, host_ip: str) -> None:
        args = ["-n", self.name, "tuntap", "add", "dev", dev, "mode", "tap"]
        if queues > 1:
            args.append("multi_queue")
        _ip(*args)
        _ip("-n", self.name, "addr", "add", host_ip, "dev", dev)
        _ip("-n", self.name, "link", "set", dev, "up")

    def exec_prefix(self) -> List[str]:
        return ["ip", "netns", "exec", self.name]

    def delete(self) -> None:
        if self.created:
            subprocess.run(["ip", "netns", "delete", self.name],
                           capture_output=True, timeout=20)
            self.created = False


# --------------------------------------------------------------------------
# The VM
# --------------------------------------------------------------------------

def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


_stale_checked = False


def _cleanup_stale_once() -> None:
    """Remove namespaces (hq-<pid>-*) and work dirs (hq-vm-<pid>-*) that
    this harness made in a test process that has since died (SIGKILL
    leaves them behind; QEMU itself died with it via PDEATHSIG).  Only
    names in the harness's own pattern whose creator PID is gone."""
    global _stale_checked
    if _stale_checked:
        return
    _stale_checked = True
    for d in glob.glob(os.path.join(tempfile.gettempdir(), "hq-vm-*")):
        m = re.match(r"hq-vm-(\d+)-", os.path.basename(d))
        if m and not _pid_alive(int(m.group(1))):
            shutil.rmtree(d, ignore_errors=True)
    if os.geteuid() == 0 and shutil.which("ip"):
        r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=20)
        for line in r.stdout.splitlines():
            name = line.split()[0] if line.split() else ""
            m = re.fullmatch(r"hq-(\d+)-[0-9a-f]{6}", name)
            if m and not _pid_alive(int(m.group(1))):
                subprocess.run(["ip", "netns", "delete", name], capture_output=True, timeout=20)


_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _child_setup(affinity: Optional[Sequence[int]]):
    def setup() -> None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if affinity:
            os.sched_setaffinity(0, affinity)
    return setup


class VM:
    """One QEMU TCG guest.  Use as a context manager, or call start() and
    make sure stop() runs (a fixture finalizer)."""

    def __init__(self, spec: VMSpec) -> None:
        spec.validate()
        self.spec = spec
        self.proc: Optional[subprocess.Popen] = None
        self.pid: Optional[int] = None
        self.workdir: Optional[Path] = None
        self.netns: Optional[NetNS] = None
        self.qmp: Optional[QMP] = None
        self.agent: Optional[_Chan] = None
        self.has_hiddenq = False
        self.boot_seconds: Optional[float] = None
        self._pidfd: Optional[int] = None
        self._socks: List[socket.socket] = []
        self._cmd_id = 0
        self.cmdline: List[str] = []
        # the second QMP socket when spec.extra_qmp (QEMU listens, the test connects)
        self.extra_qmp_path: Optional[str] = None

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self) -> "VM":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "VM":
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        spec = self.spec
        t0 = time.monotonic()
        qemu = find_qemu(spec.qemu)
        kernel, moddir = find_kernel(spec.kernel)
        if spec.hiddenq is None:
            with_hq = hiddenq_static_problem() is None
        else:
            with_hq = spec.hiddenq
        base = build_base_initramfs(moddir, with_hq)
        self.has_hiddenq = with_hq

        _cleanup_stale_once()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"hq-vm-{os.getpid()}-{spec.name[:16]}-"))
        wd = self.workdir

        net_conf = []
        net_args: List[str] = []
        taps = [d for d in spec.net if d.mode == "tap"]
        if taps:
            if shutil.which("ip") is None:
                raise VMUnavailable("tap networking needs `ip` (Debian package iproute2)")
            if os.geteuid() != 0:
                raise VMUnavailable("tap networking in a private netns needs root")
            # Assigned before creating, so stop() deletes it whatever fails.
            self.netns = NetNS(f"hq-{os.getpid()}-{os.urandom(3).hex()}")
            self.netns.create()
        for i, d in enumerate(spec.net):
            mac = d.mac or f"52:54:00:12:34:{0x56 + i:02x}"
            if d.mode == "user":
                fwd = "".join(f",hostfwd=tcp:127.0.0.1:{hp}-:{gp}" for hp, gp in d.hostfwd)
                net_args += ["-netdev", f"user,id=net{i},restrict=on{fwd}"]
                dev = f"virtio-net-pci,netdev=net{i},mac={mac}"
            else:
                tap = f"hqtap{i}"
                self.netns.add_tap(tap, d.queues, d.host_ip)
                nd = f"tap,id=net{i},ifname={tap},script=no,downscript=no"
                dev = f"virtio-net-pci,netdev=net{i},mac={mac}"
                if d.queues > 1:
                    nd += f",queues={d.queues}"
                    dev += f",mq=on,vectors={2 * d.queues + 2}"
                net_args += ["-netdev", nd]
            net_args += ["-device", dev]
            if d.guest_ip:
                net_conf.append(f"eth{i}={d.guest_ip}")

        initrd = wd / "initrd.cpio"
        with open(initrd, "wb") as f:
            f.write(base.read_bytes())
            f.write(_vm_archive(spec, " ".join(net_conf)))

        qmp_path, agent_path = str(wd / "qmp.sock"), str(wd / "agent.sock")
        lsocks = {}
        for what, path in (("qmp", qmp_path), ("agent", agent_path)):
            ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            ls.bind(path)
            ls.listen(1)
            self._socks.append(ls)
            lsocks[what] = ls

        t = spec.topology
        cmd = [qemu, "-name", f"guest={spec.name},debug-threads=on",
               "-machine", spec.machine, "-accel", "tcg",
               "-nodefaults", "-no-user-config", "-display", "none",
               "-no-reboot", "-m", str(spec.memory_mib),
               "-smp", f"{t.cpus},sockets={t.sockets},cores={t.cores},threads={t.threads}",
               "-kernel", str(kernel), "-initrd", str(initrd),
               "-append", ("console=ttyS0 panic=-1 loglevel=7 rdinit=/init "
                           + spec.kernel_args).strip(),
               "-chardev", f"file,id=con,path={wd / 'console.log'}",
               "-serial", "chardev:con",
               "-chardev", f"socket,id=qmp,path={qmp_path}",
               "-mon", "chardev=qmp,mode=control",
               "-device", "virtio-serial-pci,id=vser",
               "-chardev", f"socket,id=agent,path={agent_path}",
               "-device", f"virtserialport,bus=vser.0,chardev=agent,name={AGENT_PORT_NAME}"]
        if spec.extra_qmp:
            self.extra_qmp_path = str(wd / "qmp-extra.sock")
            cmd += ["-qmp", f"unix:{self.extra_qmp_path},server=on,wait=off"]
        if spec.cpu_model:
            cmd += ["-cpu", spec.cpu_model]
        if spec.uuid:
            cmd += ["-uuid", spec.uuid]
        for i, n in enumerate(t.nodes):
            cmd += ["-object", f"memory-backend-ram,id=mem{i},size={n.mem_mib}M",
                    "-numa", f"node,nodeid={i},cpus={n.cpus},memdev=mem{i}"]
        if t.nodes and t.distances:
            for i, row in enumerate(t.distances):
                for j, v in enumerate(row):
                    if i != j:
                        cmd += ["-numa", f"dist,src={i},dst={j},val={v}"]
        cmd += net_args
        for i, b in enumerate(spec.disks):
            path = b.path
            if path is None:
                path = str(wd / f"disk{i}.{b.fmt}")
                if b.fmt == "raw":
                    with open(path, "wb") as f:
                        f.truncate(b.size_mib << 20)
                else:
                    img = shutil.which("qemu-img")
                    if not img:
                        raise VMUnavailable("qemu-img not found; install qemu-utils")
                    subprocess.run([img, "create", "-q", "-f", "qcow2", path,
                                    f"{b.size_mib}M"], check=True, timeout=30)
            cmd += ["-blockdev",
                    f"driver=file,node-name=file{i},filename={path},"
                    f"cache.direct={'on' if b.cache in ('none', 'directsync') else 'off'},"
                    f"cache.no-flush={'on' if b.cache == 'unsafe' else 'off'}"
                    + (f",aio={b.aio}" if b.aio else ""),
                    "-blockdev", f"driver={b.fmt},node-name=disk{i},file=file{i}"]
            dev = (f"virtio-blk-pci,drive=disk{i},id=vblk{i},num-queues={b.num_queues},"
                   f"write-cache={'off' if b.cache in ('writethrough', 'directsync') else 'on'}")
            if b.serial:
                dev += f",serial={b.serial}"
            cmd += ["-device", dev]
        if spec.balloon:
            cmd += ["-device", "virtio-balloon-pci,id=balloon0"]

        if self.netns:
            cmd = self.netns.exec_prefix() + cmd
        self.cmdline = cmd
        self._stderr = open(wd / "qemu.stderr", "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self._stderr, stderr=self._stderr,
                                     preexec_fn=_child_setup(spec.affinity),
                                     close_fds=True)
        self.pid = self.proc.pid
        self._pidfd = os.pidfd_open(self.pid)

        deadline = t0 + spec.boot_timeout
        try:
            qsock = _accept(lsocks["qmp"], self, deadline, "QMP")
            self._socks.append(qsock)
            self.qmp = QMP(_Chan(qsock, self, "QMP"))
            self.qmp.handshake(deadline)
            asock = _accept(lsocks["agent"], self, deadline, "agent")
            self._socks.append(asock)
            self.agent = _Chan(asock, self, "guest agent")
            while True:
                line = self.agent.read_line(deadline, BootTimeout)
                if line.startswith(b"HQ-READY"):
                    break
        except BootTimeout:
            msg = (f"guest {spec.name} (QEMU PID {self.pid}) did not answer within "
                   f"{spec.boot_timeout:.1f} s; killed it.\n{self._vcpu_state()}"
                   f"{self._console_tail()}")
            self.stop()
            raise BootTimeout(msg) from None
        self.boot_seconds = time.monotonic() - t0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """Kill QEMU by PID, delete the namespace, remove the work dir."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        elif self.proc is not None:
            self.proc.wait()
        for s in self._socks:
            s.close()
        self._socks = []
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        if getattr(self, "_stderr", None):
            self._stderr.close()
        if self.netns:
            self.netns.delete()
        if self.workdir and self.workdir.exists() and not os.environ.get("HIDDENQ_VM_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _vcpu_state(self) -> str:
        """Where the vCPUs are (HMP `info cpus` + RIPs), for hang reports."""
        if self.qmp is None or not self.alive():
            return ""
        try:
            cpus = self.qmp.execute("human-monitor-command",
                                    {"command-line": "info cpus"}, timeout=3)
            regs = self.qmp.execute("human-monitor-command",
                                    {"command-line": "info registers -a"}, timeout=3)
        except VMError:
            return ""
        rips = re.findall(r"RIP=([0-9a-f]+)", regs)
        return ("vCPUs (QEMU `info cpus`):\n  " + "\n  ".join(cpus.strip().splitlines())
                + "\n  RIPs: " + " ".join(rips) + "\n")

    def _console_tail(self, n: int = 30) -> str:
        try:
            lines = (self.workdir / "console.log").read_text(errors="replace").splitlines()
        except (OSError, TypeError):
            return "(no console log)"
        return "last console lines:\n  " + "\n  ".join(lines[-n:])

    def _exit_note(self) -> str:
        rc = self.proc.poll() if self.proc else None
        err = ""
        try:
            err = (self.workdir / "qemu.stderr").read_text(errors="replace").strip()
        except (OSError, TypeError):
            pass
        return (f" (exit status {rc})" + (f"; qemu stderr: {err[-1500:]}" if err else "")
                + "\n" + self._console_tail())

    def console(self) -> str:
        """The guest's serial console so far."""
        return (self.workdir / "console.log").read_text(errors="replace")

    # -- commands ----------------------------------------------------------
    def run(self, command: str, timeout: Optional[float] = None) -> CommandResult:
        """Run shell `command` in the guest (busybox sh, cwd /, stdin
        /dev/null).  A command that outlives `timeout` is fatal: the VM is
        killed and CommandTimeout raised."""
        b64 = base64.b64encode(command.encode()).decode()
        return self._request("RUN", b64, b"", command, timeout)

    def _request(self, verb: str, args: str, payload: bytes, what: str,
                 timeout: Optional[float]) -> CommandResult:
        if self.agent is None or not self.alive():
            raise VMError("VM is not running")
        command = what
        timeout = self.spec.command_timeout if timeout is None else timeout
        self._cmd_id += 1
        cid = str(self._cmd_id)
        self.agent.send(f"{verb} {cid} {args}\n".encode() + payload)
        deadline = time.monotonic() + timeout
        try:
            while True:
                line = self.agent.read_line(deadline, CommandTimeout)
                parts = line.split()
                if len(parts) == 5 and parts[0] == b"HQ-RESULT" and parts[1] == cid.encode():
                    break
            rc, nout, nerr = (int(p) for p in parts[2:])
            out = self.agent.read_exact(nout, deadline, CommandTimeout)
            err = self.agent.read_exact(nerr, deadline, CommandTimeout)
            end = self.agent.read_line(deadline, CommandTimeout)
        except CommandTimeout:
            pid = self.pid
            # what the guest was doing, read before QEMU is stopped and its work dir removed
            where = self._vcpu_state() + self._console_tail()
            self.stop()
            raise CommandTimeout(f"guest command did not finish within {timeout:.1f} s "
                                 f"(killed QEMU PID {pid}): {command!r}\n{where}") from None
        if end != f"HQ-END {cid}".encode():
            raise VMError(f"agent protocol error after command {command!r}: {end[:80]!r}")
        return CommandResult(command, rc, out, err)

    def check(self, command: str, timeout: Optional[float] = None) -> str:
        """run() that raises on a nonzero exit; returns stdout as text."""
        return self.run(command, timeout).check().out

    def read_file(self, path: str) -> bytes:
        return self.run(f"cat '{path}'").check().stdout

    def put_file(self, path: str, data: bytes, mode: int = 0o644,
                 timeout: Optional[float] = None) -> None:
        """Write `data` to `path` in the guest (parent directories made)."""
        self.check(f"mkdir -p \"$(dirname '{path}')\"")
        res = self._request("PUT", f"{base64.b64encode(path.encode()).decode()} {len(data)}",
                            data, f"put_file {path}", timeout)
        res.check()
        self.check(f"chmod {mode:o} '{path}'")

    def fetch_dir(self, guest_dir: str, host_dir, timeout: Optional[float] = None) -> Path:
        """Copy a guest directory tree to host_dir (created) via tar."""
        res = self.run(f"tar -C '{guest_dir}' -cf - .", timeout).check()
        host_dir = Path(host_dir)
        host_dir.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(res.stdout), mode="r:") as tf:
            for m in tf.getmembers():
                if m.name.startswith("/") or ".." in Path(m.name).parts:
                    raise VMError(f"unsafe path in guest tar: {m.name}")
                if not (m.isdir() or m.isfile() or m.issym()):
                    continue
                tf.extract(m, host_dir, set_attrs=False)
        return host_dir

    # -- balloon -----------------------------------------------------------
    def balloon_to(self, size_mib: int, timeout: float = 60.0) -> int:
        """Resize the guest through the balloon and wait (on QMP's
        BALLOON_CHANGE events) until QEMU reports it; returns bytes."""
        target = size_mib << 20
        if self.qmp.query_balloon() == target:
            return target
        self.qmp.events.clear()
        self.qmp.balloon(target)
        self.qmp.wait_event("BALLOON_CHANGE", timeout,
                            lambda d: int(d.get("actual", -1)) == target)
        return self.qmp.query_balloon()


# --------------------------------------------------------------------------
# pytest helpers (pytest is imported lazily: the harness itself needs only
# the standard library)
# --------------------------------------------------------------------------

def require_vm() -> bool:
    """True on machines that must run the VM tests: HIDDENQ_REQUIRE_VM=1
    (`make check` sets it).  There, a missing piece is a failure."""
    return os.environ.get("HIDDENQ_REQUIRE_VM", "") not in ("", "0")


def unavailable(reason: str):
    """pytest: skip with `reason`, or fail with it under HIDDENQ_REQUIRE_VM=1."""
    import pytest
    if require_vm():
        pytest.fail(f"HIDDENQ_REQUIRE_VM=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def loopback_port() -> int:
    """A TCP port free on 127.0.0.1 for a program that cannot take :0 (a
    QEMU hostfwd, Prometheus), chosen below the kernel's ephemeral range:
    a port from that range can meanwhile become the local end of someone's
    outgoing connection (Prometheus scraping a target not up yet)."""
    import random
    try:
        lo = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        lo = 32768
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(10000, lo) if lo > 10000 else rng.randrange(lo, 65536)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise VMError("no free loopback port below the ephemeral range")


def need_vm_environment() -> None:
    """pytest: skip/fail unless QEMU, a guest kernel and busybox are here."""
    problems = check_environment()
    if problems:
        unavailable("cannot boot test VMs: " + "; ".join(problems))


def need_hiddenq() -> None:
    """pytest: skip/fail unless build/hiddenq (host) and
    build/hiddenq-static (guest) both exist."""
    problem = hiddenq_static_problem()
    if problem is None and not HIDDENQ_HOST.is_file():
        problem = f"{HIDDENQ_HOST} is missing: run `make` first"
    if problem:
        unavailable(problem)


def boot(request, spec: VMSpec) -> VM:
    """pytest: boot `spec` for the fixture or test owning `request`.  The
    finalizer that kills the VM is registered before the boot, so the VM
    is stopped and cleaned up whatever happens.  VMUnavailable becomes a
    skip (a failure under HIDDENQ_REQUIRE_VM=1)."""
    need_vm_environment()
    vm = VM(spec)
    request.addfinalizer(vm.stop)
    try:
        vm.start()
    except VMUnavailable as e:
        unavailable(str(e))
    return vm
