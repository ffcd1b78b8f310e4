"""Shared helpers for the end-to-end tests of hiddenq.

The binary under test is $HIDDENQ_BIN (default <repo>/build/hiddenq).  The
same suite runs against the ASan+UBSan build with HIDDENQ_SANITIZED=1.

Everything a test starts is bounded: subprocesses run with a timeout and are
killed (by PID, with their process group) when it expires; CPU hogs carry
their own deadline and an RLIMIT_CPU, and are killed by PID in a finally.
"""
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SANITIZED = os.environ.get("HIDDENQ_SANITIZED") == "1"
USER_HZ = os.sysconf("SC_CLK_TCK")

# severity -> exit code contribution (Nagios convention, design.md)
SEV_RANK = {"ok": 0, "warn": 1, "crit": 2}
SANITIZER_MARKS = ("AddressSanitizer", "runtime error", "LeakSanitizer", "UndefinedBehaviorSanitizer")


def hq_bin_path():
    return Path(os.environ.get("HIDDENQ_BIN", REPO / "build" / "hiddenq"))


@pytest.fixture(scope="session")
def hq():
    p = hq_bin_path()
    if not p.is_file() or not os.access(p, os.X_OK):
        pytest.fail(f"hiddenq binary not found at {p} (run make, or set HIDDENQ_BIN)")
    return str(p)


class Result:
    def __init__(self, args, rc, out, err, elapsed):
        self.args, self.returncode, self.stdout_b, self.stderr_b, self.elapsed = args, rc, out, err, elapsed

    @property
    def stdout(self):
        return self.stdout_b.decode("utf-8", "replace")

    @property
    def stderr(self):
        return self.stderr_b.decode("utf-8", "replace")

    def json(self):
        # strict: the output must be valid UTF-8 and valid JSON
        return json.loads(self.stdout_b.decode("utf-8"))

    def __repr__(self):
        return (f"<hiddenq {' '.join(map(str, self.args))} rc={self.returncode} "
                f"{self.elapsed:.2f}s\nstderr: {self.stderr[-2000:]}\nstdout: {self.stdout[:1500]}>")


def assert_no_crash(res):
    """No signal death, no sanitizer report."""
    assert res.returncode >= 0, f"killed by signal {-res.returncode}: {res!r}"
    for m in SANITIZER_MARKS:
        assert m not in res.stderr, f"sanitizer report ({m}): {res!r}"


def kill_tree(proc):
    """Kill a process we started (and its process group, which it leads)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def default_timeout(extra=0.0):
    return (60.0 if SANITIZED else 30.0) + extra


def run(args, timeout=None, env=None, input_=None, check_crash=True, preexec=None):
    """Run a command with a hard timeout; returns Result.  A timeout is a test
    failure (hang), after killing the process group."""
    timeout = timeout or default_timeout()
    e = dict(os.environ)
    e.pop("HIDDENQ_FAULT", None)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    if env:
        e.update(env)
    t0 = time.monotonic()
    p = subprocess.Popen([str(a) for a in args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=e, start_new_session=True, preexec_fn=preexec)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(p)
        out, err = p.communicate()
        pytest.fail(f"hang: {args} did not finish in {timeout} s\nstderr: {err[-2000:]!r}")
    finally:
        kill_tree(p)
    r = Result(args, p.returncode, out, err, time.monotonic() - t0)
    if check_crash:
        assert_no_crash(r)
    return r


def expected_exit(doc):
    """The exit code the findings imply (design.md)."""
    sevs = [f["severity"] for f in doc["findings"]]
    if sevs and all(s == "unknown" for s in sevs):
        return 3
    return max((SEV_RANK.get(s, 0) for s in sevs), default=0)


def finding(doc, fid):
    for f in doc["findings"]:
        if f["id"] == fid:
            return f
    raise AssertionError(f"no finding {fid} in {[f['id'] for f in doc['findings']]}")


def ev(f, metric):
    """Values of the machine-wide (not per-cpu) evidence named metric."""
    return [e["value"] for e in f["evidence"] if e["metric"] == metric and "cpu" not in e]


def ev_cpu(f, metric):
    """{cpu: value} for per-cpu evidence."""
    return {e["cpu"]: e["value"] for e in f["evidence"] if e["metric"] == metric and "cpu" in e}


def check_doc_shape(doc):
    """The JSON contract of diagnose --json."""
    for k in ("hiddenq", "mode", "window_s", "source", "window", "environment", "capabilities", "findings", "exit"):
        assert k in doc, f"missing {k}"
    for k in ("start_mono_ns", "end_mono_ns", "samples", "windows_1s"):
        assert k in doc["window"], f"window.{k} missing"
    for name, c in doc["capabilities"].items():
        assert isinstance(c["ok"], bool) and isinstance(c["detail"], str) and c["detail"], name
    for f in doc["findings"]:
        for k in ("id", "failure_mode", "layer", "severity", "title", "evidence", "explain", "next"):
            assert k in f, f"finding {f.get('id')} lacks {k}"
        assert f["severity"] in ("ok", "warn", "crit", "unknown")
        assert isinstance(f["title"], str) and f["title"]
        for e in f["evidence"]:
            for k in ("metric", "value", "warn", "crit", "unit"):
                assert k in e, f"{f['id']} evidence lacks {k}: {e}"
    assert doc["exit"] == expected_exit(doc), doc["exit"]


def pct_sane(doc):
    """Every % evidence value is within 0..100 and every value is finite."""
    for f in doc["findings"]:
        for e in f["evidence"]:
            v = e["value"]
            if v is None:
                continue
            assert isinstance(v, (int, float)), e
            assert v == v and abs(v) != float("inf"), e
            if e["unit"] == "%":
                assert -1e-9 <= v <= 100 + 1e-9, f"{f['id']} {e}"
            if e["unit"] in ("ticks", "windows", "tasks", "ms", "ms/s"):
                assert v >= 0, f"{f['id']} {e}"


def diagnose_json(hq, *args, timeout=None, env=None, expect_codes=(0, 1, 2)):
    r = run([hq, "diagnose", "--json", *args], timeout=timeout, env=env)
    assert r.returncode in expect_codes, repr(r)
    doc = r.json()
    if "error" not in doc:
        check_doc_shape(doc)
        assert doc["exit"] == r.returncode, repr(r)
    return r, doc


def assert_unusable(res):
    """Exit 3 with a one-line reason on stderr."""
    assert res.returncode == 3, repr(res)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert lines, f"no reason given: {res!r}"
    # the reason is one line (usage text may precede it for bad options)
    assert len(lines[-1]) < 400, lines[-1]


# ---------------------------------------------------------------- CPU hogs

HOG_SRC = "import time\nd=time.monotonic()+{secs}\nwhile time.monotonic()<d: pass\n"


class Hogs:
    """N busy-loop processes, each with its own deadline and RLIMIT_CPU; the
    context manager kills them by PID on exit."""

    def __init__(self, n, secs):
        self.n, self.secs, self.procs = n, secs, []

    def __enter__(self):
        lim = int(self.secs) + 2

        def limit():
            resource.setrlimit(resource.RLIMIT_CPU, (lim, lim))

        try:
            for _ in range(self.n):
                self.procs.append(subprocess.Popen([sys.executable, "-c", HOG_SRC.format(secs=self.secs)],
                                                   stdin=subprocess.DEVNULL, preexec_fn=limit))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def alive(self):
        return all(p.poll() is None for p in self.procs)

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            p.wait(timeout=10)
        return False


def wait_for(cond, timeout, what, poll=0.02):
    """Poll a condition until a deadline (polling, not sleeping as sync)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# ---------------------------------------------------------------- bundles

KVM_IDENTITY = {
    "cpuid_available": True, "hypervisor_bit": True, "hypervisor_signature": "KVMKVMKVM",
    "hypervisor_signature_inner": "", "hypervisor_base": 0x40000000, "kvm_features_eax": 16809723,
    "kvm_steal_time": True, "euid": 0, "pid": 4242, "btf": False, "container_markers": [],
}
TCG_IDENTITY = {
    "cpuid_available": True, "hypervisor_bit": True, "hypervisor_signature": "TCGTCGTCGTCG",
    "hypervisor_signature_inner": "", "hypervisor_base": 0x40000000, "euid": 0, "pid": 4242,
    "btf": False, "container_markers": [],
}

FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")


def procstat_text(cpus, running=1, boot_base=None):
    """/proc/stat from per-cpu cumulative counters: cpus = [{field: ticks}]."""
    def line(name, d):
        return name + " " + " ".join(str(int(d.get(f, 0))) for f in FIELDS)

    agg = {f: sum(c.get(f, 0) for c in cpus) for f in FIELDS}
    lines = [line("cpu ", agg)]  # "cpu  N N ..." as the kernel writes it
    for i, c in enumerate(cpus):
        lines.append(line(f"cpu{i}", c))
    lines += ["intr 0", "ctxt 1000", "btime 1700000000", "processes 100",
              f"procs_running {running}", "procs_blocked 0", "softirq 0 0 0 0 0 0 0 0 0 0 0"]
    return "\n".join(lines) + "\n"


class Bundle:
    """Builds a capture bundle on disk (format hiddenq-capture/1)."""

    def __init__(self, root, interval_ms=100, identity=KVM_IDENTITY, meta_extra=None):
        self.root = Path(root)
        self.samples = self.root / "samples"
        self.samples.mkdir(parents=True, exist_ok=True)
        self.n = 0
        self.interval_ms = interval_ms
        self.identity = identity
        meta = {"format": "hiddenq-capture/1", "interval_ms": interval_ms, "hostname": "synthetic",
                "kernel": "6.1.0-test", "static": [".hiddenq/identity.json"], "user_hz": 100}
        meta.update(meta_extra or {})
        (self.root / "meta.json").write_text(json.dumps(meta))

    def sample_dir(self, i):
        return self.samples / f"{i:06d}"

    def add(self, mono_ns, files, time_text=None):
        """files: {relpath: str|bytes}; returns the sample directory."""
        d = self.sample_dir(self.n)
        d.mkdir(parents=True)
        (d / "time").write_text(time_text if time_text is not None else
                                f"{mono_ns} {1700000000000000000 + mono_ns}\n")
        if self.n == 0 and self.identity is not None:
            files = dict(files)
            files[".hiddenq/identity.json"] = json.dumps(self.identity)
        for rel, data in files.items():
            p = d / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data if isinstance(data, bytes) else data.encode())
        self.n += 1
        return d


T0_NS = 5_000_000_000_000


def steal_bundle(root, per_cpu_steal_pct, seconds, busy_pct=50.0, identity=KVM_IDENTITY, ticks_per_interval=10,
                 interval_ms=100, extra_files=None):
    """A bundle whose /proc/stat gives each CPU a steal percentage per
    interval.  per_cpu_steal_pct: list (one per CPU) of functions
    interval_index -> steal %.  Ticks are distributed with a running
    remainder (Bresenham), so each 1 s window holds exactly its share of
    whole ticks, as a real kernel's 100 Hz accounting would.  The rest of
    each interval is busy_pct user time (at most 100 % - steal) and idle;
    every counter only grows."""
    b = Bundle(root, interval_ms=interval_ms, identity=identity)
    ncpu = len(per_cpu_steal_pct)
    base = [{"user": 100000, "system": 20000, "idle": 900000, "iowait": 100, "irq": 0, "softirq": 50,
             "steal": 0} for _ in range(ncpu)]
    want = [{"steal": 0.0, "user": 0.0} for _ in range(ncpu)]
    given = [{"steal": 0, "user": 0, "idle": 0} for _ in range(ncpu)]
    nint = int(round(seconds * 1000 / interval_ms))
    for k in range(nint + 1):
        if k > 0:
            for c in range(ncpu):
                sp = per_cpu_steal_pct[c](k - 1)
                want[c]["steal"] += ticks_per_interval * sp / 100.0
                # busy never more than what steal leaves of the interval
                want[c]["user"] += ticks_per_interval * min(busy_pct, 100.0 - sp) / 100.0
                tot = k * ticks_per_interval
                st = int(round(want[c]["steal"]))
                us = min(int(round(want[c]["user"])), tot - st)
                assert tot - st - us >= given[c]["idle"], "generator: idle must not go backwards"
                given[c] = {"steal": st, "user": us, "idle": tot - st - us}
        cpus = []
        for c in range(ncpu):
            d = dict(base[c])
            for f in ("steal", "user", "idle"):
                d[f] += given[c][f]
            cpus.append(d)
        files = {"proc/stat": procstat_text(cpus)}
        if extra_files:
            files.update(extra_files(k))
        b.add(T0_NS + k * interval_ms * 1_000_000, files)
    return b


def const(p):
    return lambda k: p


def whole_disk_of(path):
    """The whole disk (vda, not vda1) holding a file, by its device number; None if no block device."""
    st = os.stat(path)
    sysdir = Path(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}").resolve()
    if (sysdir / "partition").exists():
        sysdir = sysdir.parent
    uevent = sysdir / "uevent"
    if not uevent.exists():
        return None
    for line in uevent.read_text().splitlines():
        if line.startswith("DEVNAME="):
            return line[8:]
    return None
