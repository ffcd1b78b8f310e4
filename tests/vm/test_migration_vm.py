"""A live migration in flight, with real parts: two TCG QEMUs on this
machine, a source guest and a destination started with `-incoming` on
loopback, and `hiddenq vms` (and `diagnose`) on the host watching the
source through its second QMP socket (VMSpec.extra_qmp: the harness keeps
the first, which this test uses to drive the migration).

- capped: the guest dirties 32 MiB of memory much faster than the 16 MiB/s
  the migration stream is capped at (QMP migrate-set-parameters
  max-bandwidth): every pass resends the whole working set, the migration
  cannot converge, and migration-convergence must fire on the passes QEMU
  itself counts (dirty-sync-count).
- uncapped: the same small guest, dirtying 1 MiB/s, migrates to a fresh
  destination at full speed: it converges and the finding stays ok.

`vms` and `diagnose` watch the capped migration side by side (each asks
the monitor once a second, in a conversation of a few milliseconds: QEMU
takes the other's connection when one closes).  The uncapped one is
recorded with `capture` and judged on replay: the migration starts once the
capture's first sample, with the monitor's first answer, is on disk, so the
watch sees it begin and end (no sleep decides the order).

The dirtying is the probe's own paced workload (hiddenq probe dirty
--workload-only) inside the guest.  TCG tracks guest writes in QEMU's dirty
bitmap like KVM's dirty log; what is measured here is page counts and
QEMU's own rates, never the emulated machine's speed.  Everything is
bounded: the migration and the hiddenq runs have time limits, each QEMU is
stopped by its PID in a finalizer, and all traffic stays on 127.0.0.1.
"""
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.vm import harness
from tests.vm.harness import VMSpec

HQ = os.environ.get("HIDDENQ_BIN", str(Path(__file__).resolve().parents[2] / "build" / "hiddenq"))
MIB = 1 << 20
WATCH_S = 10  # the capped watch: about five 2 s passes (32 MiB at 16 MiB/s), answers once a second
SPEC = VMSpec(name="mig-src", memory_mib=160, hiddenq=True, extra_qmp=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def destination_cmdline(src, port, name):
    """The source's QEMU command line with its sockets and console of its own, waiting for
    the migration on 127.0.0.1:port: the same machine, devices and memory, as migration needs."""
    cmd, out, i = list(src.cmdline), [], 0
    wd = src.workdir
    while i < len(cmd):
        a, nxt = cmd[i], cmd[i + 1] if i + 1 < len(cmd) else ""
        if a == "-name":
            out += [a, f"guest={name},debug-threads=on"]
        elif a == "-chardev" and nxt.startswith("socket,id=qmp,"):
            out += [a, f"socket,id=qmp,path={wd}/{name}-qmp.sock,server=on,wait=off"]
        elif a == "-chardev" and nxt.startswith("socket,id=agent,"):
            out += [a, "null,id=agent"]  # the agent's channel stays with the harness; the guest is the same
        elif a == "-chardev" and nxt.startswith("file,id=con,"):
            out += [a, f"file,id=con,path={wd}/{name}-console.log"]
        elif a == "-qmp":
            pass  # the second monitor is the source's
        else:
            out.append(a)
            i += 1
            continue
        i += 2
    return out + ["-incoming", f"tcp:127.0.0.1:{port}"]


def qmp_once(path, cmd):
    """One command on a QMP socket: its "return" value ({} on any failure)."""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(path)
            f = s.makefile("rwb")
            f.readline()  # the greeting
            for c in ("qmp_capabilities", cmd):
                f.write(json.dumps({"execute": c}).encode() + b"\n")
                f.flush()
                while True:
                    r = json.loads(f.readline())
                    if "event" not in r:
                        break
            return r.get("return", {})
    except (OSError, ValueError):
        return {}


def start_destination(request, src, name):
    port = free_port()
    log = open(src.workdir / f"{name}.log", "wb")
    p = subprocess.Popen(destination_cmdline(src, port, name), stdin=subprocess.DEVNULL, stdout=log,
                         stderr=subprocess.STDOUT, preexec_fn=harness._child_setup(None))

    def stop():
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)  # by its PID; it holds nothing worth a clean exit
        p.wait(timeout=10)
        log.close()
    request.addfinalizer(stop)
    # ready once its monitor says it waits for the migration (connecting to the port itself would
    # be taken as the migration stream)
    qsock = src.workdir / f"{name}-qmp.sock"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert p.poll() is None, (src.workdir / f"{name}.log").read_text(errors="replace")
        if qsock.exists() and qmp_once(str(qsock), "query-status").get("status") == "inmigrate":
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"destination QEMU {name} does not wait for the migration")
    return p, port


def migrate(src, port, bandwidth):
    q = src.qmp
    q.execute("migrate-set-parameters", {"max-bandwidth": bandwidth})
    q.execute("migrate", {"uri": f"tcp:127.0.0.1:{port}"})


def wait_migration(src, pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = src.qmp.execute("query-migrate")
        if pred(r):
            return r
        assert r.get("status") != "failed", r
        time.sleep(0.2)
    pytest.fail(f"migration did not reach the state in {timeout} s: {r}")


def cancel(src):
    r = src.qmp.execute("query-migrate")
    if r.get("status") in ("setup", "active", "pre-switchover", "device"):
        src.qmp.execute("migrate_cancel")
        wait_migration(src, lambda x: x.get("status") in ("cancelled", "failed", "completed"), 30)


def workload(src, rate, wss):
    """The probe's paced dirtying workload in the guest; its PID (stopped by PID later)."""
    res = src.run("rm -f /tmp/wl.fifo; mkfifo /tmp/wl.fifo; "
                  f"hiddenq probe dirty --workload-only --notify-ready --rate {rate} --wss {wss} --duration 120s "
                  ">/tmp/wl.fifo 2>/dev/null </dev/null & read -r ready pid </tmp/wl.fifo; rm -f /tmp/wl.fifo; "
                  "[ \"$ready\" = ready ] || exit 9; echo $pid", timeout=60)
    assert res.rc == 0, res.err
    return int(res.out.split()[-1])


def hq_start(*args):
    """hiddenq on the host in the background; stopped by its PID by the caller."""
    return subprocess.Popen([HQ, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def hq_finish(procs, timeout):
    """Each process's (stdout, returncode), in order; any still running at the deadline is killed by PID."""
    deadline = time.monotonic() + timeout
    res = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            assert p.returncode in (0, 1, 2), err
            res.append((out, p.returncode))
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
    return res


def wait_first_sample(proc, bundle, timeout):
    """Until the capture's first sample directory exists (it is renamed into place whole)."""
    deadline = time.monotonic() + timeout
    first = bundle / "samples" / "000000"
    while not first.is_dir():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, f"no first sample in {bundle} after {timeout} s"
        time.sleep(0.05)


def wait_samples(proc, bundle, n, timeout):
    """Until the capture has written n samples (each directory is renamed into place whole)."""
    deadline = time.monotonic() + timeout
    while len(list((bundle / "samples").glob("[0-9]*[0-9]"))) < n:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, f"fewer than {n} samples in {bundle} after {timeout} s"
        time.sleep(0.05)


def finding(doc, fid="migration-convergence"):
    return [f for f in doc["findings"] if f["id"] == fid][0]


def ev(f, metric):
    return [e for e in f["evidence"] if e["metric"] == metric]


@pytest.fixture(scope="module")
def src(request):
    harness.need_hiddenq()
    if not Path(HQ).exists():
        harness.unavailable(f"{HQ} not built (make)")
    return harness.boot(request, SPEC)


@pytest.mark.vm
def test_capped_migration_does_not_converge(src, request):
    _, port = start_destination(request, src, "mig-dst1")
    pid = workload(src, "64M", "32M")
    try:
        # the first pass (all of memory) at 64 MiB/s, then the cap the guest's writes outrun
        migrate(src, port, 64 * MIB)
        wait_migration(src, lambda r: r.get("ram", {}).get("dirty-sync-count", 0) >= 2, 60)
        src.qmp.execute("migrate-set-parameters", {"max-bandwidth": 16 * MIB})
        qmp = f"mig-src={src.extra_qmp_path}"
        procs = [hq_start("vms", "--json", "--duration", str(WATCH_S), "--interval", "500ms", "--qmp", qmp),
                 hq_start("diagnose", "--json", "--duration", str(WATCH_S), "--no-bpf", "--stalls", "off",
                          "--sources", "vms", "--qmp", qmp)]
        (vout, rc), (dout, drc) = hq_finish(procs, WATCH_S + 60)
        doc = json.loads(vout)
        after = src.qmp.execute("query-migrate")
    finally:
        cancel(src)
        src.run(f"kill {pid}", timeout=20)
    assert after["status"] == "active", after  # it did not converge on its own meanwhile
    f = finding(doc)
    print(json.dumps(f, indent=1))
    assert f["severity"] in ("warn", "crit"), f["title"]
    assert rc >= 1
    # the passes are QEMU's: the count it reported, and each pass quoted is one of them
    passes = {int(e["labels"]["pass"]) for e in ev(f, "migration_pass_backlog")}
    qemu_passes = after["ram"]["dirty-sync-count"]
    assert len(passes) >= 4 and max(passes) <= qemu_passes, (passes, qemu_passes)
    assert ev(f, "vm_migration_pass")[0]["value"] <= qemu_passes
    # each pass began with about the working set to resend, never all of memory again
    for e in ev(f, "migration_pass_backlog"):
        if int(e["labels"]["pass"]) >= 3:
            assert 4 <= e["value"] <= 48, e
    # the guest dirtied about as fast as the cap let the stream send
    sent = [e["value"] for e in ev(f, "migration_pass_sent_rate")]
    assert sent and all(8 <= s <= 20 for s in sent), sent
    if f["severity"] == "crit":
        dp = ev(f, "migration_dirty_pct_of_sent")[0]
        assert dp["value"] >= 90 and dp["crit"] == 90, dp
        assert "not converging" in f["title"], f["title"]
    assert any("downtime limit" in n for n in f["next"]) and any("post-copy" in n for n in f["next"])
    assert any("auto-converge" in n for n in f["next"])
    mig = [v for v in doc["vms"] if v["name"] == "mig-src"][0]["migration"]
    assert mig["status"] == "active" and mig["parameters"]["max_bandwidth_bytes_per_s"] == 16 * MIB, mig
    assert mig["parameters"]["downtime_limit_ms"] == 300 and mig["parameters"]["auto_converge"] is False
    # diagnose on the host, watching beside it, judges the same migration
    assert drc in (1, 2)
    d = finding(json.loads(dout))
    print(json.dumps(d, indent=1))
    assert d["severity"] in ("warn", "crit"), d["title"]
    assert "mig-src" in d["title"], d["title"]
    dpasses = {int(e["labels"]["pass"]) for e in ev(d, "migration_pass_backlog")}
    assert dpasses and max(dpasses) <= qemu_passes, (dpasses, qemu_passes)


@pytest.mark.vm
def test_uncapped_migration_converges_and_stays_ok(src, request, tmp_path):
    cancel(src)  # whatever the test before left
    _, port = start_destination(request, src, "mig-dst2")
    pid = workload(src, "1M", "8M")
    bundle = tmp_path / "uncapped"
    procs = [hq_start("capture", "-o", str(bundle), "-i", "500ms", "-d", "60s", "--no-bpf", "--stalls", "off",
                      "--sources", "vms", "-q", "--qmp", f"mig-src={src.extra_qmp_path}")]
    try:
        wait_first_sample(procs[0], bundle, 30)  # the monitor's first answer: before the migration
        migrate(src, port, 1024 * MIB)
        done = wait_migration(src, lambda r: r.get("status") in ("completed", "failed"), 60)
        # two slow ticks (the monitor is asked once a second) after it ended, and a watch of 4 s at
        # least (a verdict needs migration_min_windows, 3), then stop the capture by its PID: Ctrl-C
        # leaves a complete bundle
        n = len(list((bundle / "samples").glob("[0-9]*[0-9]")))
        wait_samples(procs[0], bundle, max(n + 4, 9), 30)
    finally:
        if procs[0].poll() is None:
            os.kill(procs[0].pid, signal.SIGINT)
        hq_finish(procs, 30)
    assert done["status"] == "completed", done
    r = subprocess.run([HQ, "vms", "--replay", str(bundle), "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode in (0, 1, 2), r.stderr
    doc = json.loads(r.stdout)
    f = finding(doc)
    print(json.dumps(f, indent=1))
    assert f["severity"] == "ok", f["title"]
    assert "completed" in f["title"] and "mig-src" in f["title"], f["title"]
    mig = [v for v in doc["vms"] if v["name"] == "mig-src"][0]["migration"]
    assert mig["status"] == "completed" and mig["ended_during_watch"] is True, mig
    assert mig["passes"] == done["ram"]["dirty-sync-count"], (mig, done)
    # diagnose on the same recording: the same verdict
    r = subprocess.run([HQ, "diagnose", "--replay", str(bundle), "--json", "-q"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode in (0, 1, 2), r.stderr
    d = finding(json.loads(r.stdout))
    assert (d["severity"], d["title"]) == (f["severity"], f["title"]), (d, f)
    del pid  # the guest now runs on the destination; the source is paused and stopped by its finalizer
