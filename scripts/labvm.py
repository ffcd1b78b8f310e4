#!/usr/bin/python3
"""The VM half of `hiddenq lab --with-vm`: one QEMU (TCG) test VM, booted
with tests/vm/harness.py, standard library only.

    labvm.py [--disk FILE [--io-duration 700ms] [--gap 2000us]] [--balloon]
             [--budget 45] [--guest-hiddenq PATH]

--disk FILE   FILE (made by lab, filled with data) becomes the guest's raw
              virtio-blk disk with cache=none, aio=native when this QEMU
              accepts it on that file, else aio=threads (reported with the
              reason).  Inside the guest, `hiddenq probe io --target /dev/vda`
              (QD=1 O_DIRECT 4 KiB random reads, read-only) with lab's phase
              length and gap.
--balloon     a working-set spike (`hiddenq lab --spike`) in the guest at
              its full size, then again after the host has taken memory back
              with the balloon (QMP `balloon`, waiting for BALLOON_CHANGE).
--budget S    everything (boot, commands) within S seconds.

Prints one JSON object on stdout: {"ok": true, "qemu", "accel", "boot_s",
"guest_kernel", "disk", "io", "overcommit", "elapsed_s", ...}, or
{"ok": false, "error", "needs"} (exit 2 when something is missing here, 1
when the VM failed).  SIGTERM or SIGINT stops the VM (QEMU is killed by PID
and its work directory removed) before exiting; if this process is killed
outright, QEMU dies with it (PR_SET_PDEATHSIG).
"""

import argparse
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GUEST_MIB = 384          # the guest with --balloon (256 without)
BALLOON_TO_MIB = 128     # what the host leaves it
SPIKE_MIB = 160          # fits before, not after


class Stop(Exception):
    """SIGTERM/SIGINT/SIGHUP: stop the VM and leave."""


def _on_signal(signum, frame):
    raise Stop(f"signal {signum}")


def progress(msg):
    """One line on stderr (lab passes it on unless --json)."""
    sys.stderr.write(f"labvm: {msg}\n")
    sys.stderr.flush()


def emit(doc, rc):
    sys.stdout.write(json.dumps(doc, indent=1) + "\n")
    sys.stdout.flush()
    return rc


def duration_s(text):
    m = re.fullmatch(r"\s*([0-9.]+)\s*(us|ms|s)?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"bad duration {text!r}")
    return float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, None: 1.0}[m.group(2)]


def meminfo(vm, timeout):
    out = vm.check("cat /proc/meminfo", timeout=timeout)
    kb = {}
    for line in out.splitlines():
        m = re.match(r"(\w+):\s+(\d+) kB", line)
        if m:
            kb[m.group(1)] = int(m.group(2))
    return {"mem_total_mib": round(kb.get("MemTotal", 0) / 1024, 1),
            "mem_available_mib": round(kb.get("MemAvailable", 0) / 1024, 1)}


def spike(vm, mib, timeout):
    """`hiddenq lab --spike` in the guest: its JSON "spike" object."""
    res = vm.run(f"hiddenq lab --spike {mib} --json", timeout=timeout)
    try:
        return json.loads(res.out)["spike"]
    except (ValueError, KeyError):
        return {"error": f"hiddenq lab --spike exited {res.rc}: {res.err.strip()[-300:]}"}


def main():
    ap = argparse.ArgumentParser(description="the VM half of hiddenq lab --with-vm")
    ap.add_argument("--disk")
    ap.add_argument("--io-duration", type=duration_s, default=0.7)
    ap.add_argument("--gap", type=duration_s, default=0.002)
    ap.add_argument("--balloon", action="store_true")
    ap.add_argument("--budget", type=float, default=45.0)
    ap.add_argument("--guest-hiddenq")
    args = ap.parse_args()
    t0 = time.monotonic()
    deadline = t0 + args.budget
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)

    if args.guest_hiddenq:
        os.environ["HIDDENQ_STATIC"] = args.guest_hiddenq
    sys.path.insert(0, str(ROOT))
    try:
        from tests.vm import harness
        from tests.vm.harness import BlockDevice, VMSpec
    except ImportError as e:
        return emit({"ok": False, "error": f"cannot import tests/vm/harness.py from {ROOT}: {e}",
                     "needs": "the hiddenq source tree (scripts/labvm.py next to tests/vm/)"}, 2)

    problems = harness.check_environment()
    hq = harness.hiddenq_static_problem()
    if hq:
        problems.append(hq)
    if problems:
        return emit({"ok": False, "error": "cannot boot a test VM here: " + "; ".join(problems),
                     "needs": "qemu-system-x86 (QEMU), linux-image-cloud-amd64 (guest kernel and "
                              "modules), busybox-static and `make static` (build/hiddenq-static)"}, 2)

    doc = {"ok": True, "driver": str(Path(__file__).resolve()), "tcg_limits": harness.TCG_LIMITS}
    disks = []
    if args.disk:
        disk = {"path": args.disk, "size": os.path.getsize(args.disk), "format": "raw", "cache": "none"}
        err = harness.probe_aio(args.disk, "native")
        if err is None:
            disk["aio"] = "native"
        else:
            err2 = harness.probe_aio(args.disk, "threads")
            if err2 is not None:
                return emit({"ok": False, "error": f"QEMU cannot open {args.disk} with cache=none: {err2}",
                             "needs": "the disk file on a filesystem that allows O_DIRECT (not tmpfs): "
                                      "set TMPDIR"}, 2)
            disk["aio"] = "threads"
            disk["aio_note"] = f"aio=native refused by this QEMU on this file: {err}"
        doc["disk"] = disk
        disks.append(BlockDevice(path=args.disk, fmt="raw", cache="none", aio=disk["aio"],
                                 serial="hqlab"))

    def left(cap):
        r = deadline - time.monotonic()
        if r < 2:
            raise harness.VMTimeout(f"the {args.budget:.0f} s budget is used up")
        return min(cap, r)

    spec = VMSpec(name="hq-lab", memory_mib=GUEST_MIB if args.balloon else 256, disks=disks,
                  balloon=args.balloon, hiddenq=True, boot_timeout=left(40))
    vm = harness.VM(spec)
    try:
        progress(f"booting a {spec.memory_mib} MiB TCG guest"
                 + (f" with {args.disk} as virtio-blk (cache=none, aio={doc['disk']['aio']})" if args.disk else ""))
        vm.start()
        doc["boot_s"] = round(vm.boot_seconds, 2)
        progress(f"booted in {vm.boot_seconds:.1f} s (QEMU PID {vm.pid})")
        v = vm.qmp.execute("query-version")["qemu"]
        doc["qemu"] = f"{v['major']}.{v['minor']}.{v['micro']}"
        kvm = vm.qmp.execute("query-kvm")
        doc["accel"] = "kvm" if kvm.get("enabled") else "tcg"
        doc["guest_kernel"] = vm.check("uname -r", timeout=left(10)).strip()
        if args.disk:
            io = {}
            cmd = (f"hiddenq probe io --target /dev/vda --duration {int(args.io_duration * 1000)}ms "
                   f"--gap {int(args.gap * 1e6)}us --json")
            # two phases plus TCG's slowness at starting the binary
            progress("QD=1 reads on /dev/vda in the guest")
            res = vm.run(cmd, timeout=left(2 * args.io_duration + 20))
            try:
                pdoc = json.loads(res.out)
                io["result"], io["context"] = pdoc["result"], pdoc.get("context")
            except (ValueError, KeyError):
                io["error"] = f"probe io in the guest exited {res.rc}: {res.err.strip()[-300:]}"
            io["command"] = cmd
            io["scheduler"] = vm.run("cat /sys/block/vda/queue/scheduler", timeout=left(10)).out.strip()
            doc["io"] = io
        if args.balloon:
            oc = {"memory_mib": GUEST_MIB, "balloon_target_mib": BALLOON_TO_MIB, "spike_mib": SPIKE_MIB}
            doc["overcommit"] = oc
            progress(f"a {SPIKE_MIB} MiB spike, then the balloon to {BALLOON_TO_MIB} MiB and the spike again")
            before = meminfo(vm, left(10))
            before["spike"] = spike(vm, SPIKE_MIB, left(30))
            oc["before"] = before
            tb = time.monotonic()
            actual = vm.balloon_to(BALLOON_TO_MIB, timeout=left(30))
            oc["balloon_s"] = round(time.monotonic() - tb, 2)
            oc["balloon_actual_mib"] = actual >> 20
            after = meminfo(vm, left(10))
            after["spike"] = spike(vm, SPIKE_MIB, left(30))
            oc["after"] = after
            oc["guest_oom_kill"] = "Killed process" in vm.run("dmesg", timeout=left(10)).out
    except Stop as e:
        doc.update(ok=False, error=f"stopped by {e}")
    except harness.VMUnavailable as e:
        doc.update(ok=False, error=str(e), needs="see docs/vm-harness.md (Debian packages)")
    except harness.VMError as e:       # VMTimeout included
        doc.update(ok=False, error=f"{type(e).__name__}: {str(e)[:600]}")
    finally:
        # ignore further signals while QEMU is stopped and the work dir removed
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        vm.stop()
    doc["elapsed_s"] = round(time.monotonic() - t0, 2)
    return emit(doc, 0 if doc["ok"] else 1)


if __name__ == "__main__":
    sys.exit(main())
