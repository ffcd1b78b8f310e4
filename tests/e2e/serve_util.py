"""Helpers for the tests of hiddenq serve: start it (and its peers) on
loopback, talk HTTP to it, read the exposition formats.

Everything is started by the test, on 127.0.0.0/8 with ephemeral ports, and
stopped by PID.  Waiting is polling against a deadline (conftest.wait_for).
"""
import gzip
import http.client
import math
import os
import random
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

from conftest import SANITIZED, SANITIZER_MARKS, kill_tree, wait_for

# the findings of rules.def: the contract of hiddenq_finding_severity
FINDING_IDS = (
    "vcpu-oversubscription", "idle-vcpu-wakeup", "guest-cpu-saturation", "cgroup-cpu-throttling", "guest-memory-pressure",
    "memory-overcommit", "thp-compaction", "numa-remote", "execution-stalls", "virtqueue-saturation",
    "io-layer-latency", "cpu-pinning-conflict", "migration-convergence", "hardware-errors",
)
TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OM_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
# what Prometheus 2.42 sends (scrape/scrape.go, acceptHeader)
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")

SLOW = 3.0 if SANITIZED else 1.0   # the ASan build is slower at everything


def free_port():
    """A port nobody uses right now, for programs that cannot take :0, chosen below the kernel's
    ephemeral range: a port from that range (what bind(0) gives) can be taken meanwhile as the local
    end of an outgoing connection, e.g. Prometheus scraping a target that is not up yet."""
    try:
        lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        lo = 32768
    lo = max(lo, 10000)
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(10000, lo) if lo > 10000 else rng.randrange(lo, 65536)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status_kib(pid, field="VmRSS"):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def proc_cpu_s(pid):
    """utime + stime of a process (all threads), in seconds."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def child_env(extra=None):
    e = dict(os.environ)
    e.pop("HIDDENQ_FAULT", None)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    if extra:
        e.update(extra)
    return e


class Serve:
    """`hiddenq serve` on an ephemeral loopback port; stop() ends it by PID
    with SIGTERM and checks it stopped cleanly."""

    def __init__(self, hq, workdir, *args, listen="127.0.0.1:0", env=None, start_timeout=None):
        self.args = [hq, "serve", "--listen", listen, *map(str, args)]
        self.errpath = Path(workdir) / f"serve-{time.monotonic_ns()}.err"
        self.env = child_env(env)
        self.start_timeout = start_timeout or 20 * SLOW
        self.proc = None
        self.port = None

    def __enter__(self):
        with open(self.errpath, "wb") as err:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                         env=self.env, start_new_session=True)
        try:
            def listening():
                m = re.search(r"listening on \S+ \(port (\d+)\)", self.stderr())
                if m:
                    return int(m.group(1))
                assert self.proc.poll() is None, f"serve exited {self.proc.returncode}: {self.stderr()}"
                return None
            self.port = wait_for(listening, self.start_timeout, "serve to listen", poll=0.005)
        except BaseException:
            kill_tree(self.proc)
            raise
        return self

    def __exit__(self, *exc):
        kill_tree(self.proc)
        return False

    @property
    def pid(self):
        return self.proc.pid

    def stderr(self):
        return self.errpath.read_bytes().decode("utf-8", "replace")

    def rss_kib(self):
        return proc_status_kib(self.pid)

    def get(self, path="/metrics", **kw):
        return http_get(self.port, path, **kw)

    def wait_ready(self, timeout=None):
        """Until /metrics answers 200 (the first sample is in)."""
        return wait_for(lambda: self.get(timeout=2 * SLOW)[0] == 200, timeout or 20 * SLOW, "the first sample")

    def stop(self, timeout=None):
        """SIGTERM by PID; it must exit 0, say it stopped, and the sanitizers
        (when built with them) must have nothing to say."""
        assert self.proc.poll() is None, f"serve died early ({self.proc.returncode}): {self.stderr()}"
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout or 10 * SLOW)
        except subprocess.TimeoutExpired:
            kill_tree(self.proc)
            raise AssertionError(f"serve did not stop within {timeout or 10 * SLOW} s of SIGTERM: {self.stderr()}")
        err = self.stderr()
        for m in SANITIZER_MARKS:
            assert m not in err, f"sanitizer report ({m}):\n{err[-4000:]}"
        assert rc == 0, f"serve exited {rc}:\n{err[-3000:]}"
        assert "hiddenq: serve: stopped" in err, err[-2000:]
        return err


def http_get(port, path="/metrics", method="GET", headers=None, src="127.0.0.1", timeout=2.0, host="127.0.0.1"):
    """One request on a fresh connection: (status, {lower-case header: value}, body bytes)."""
    c = http.client.HTTPConnection(host, port, timeout=timeout, source_address=(src, 0))
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        c.close()


def timed_get(port, src="127.0.0.1", timeout=5.0):
    """A scrape and how long it took."""
    t0 = time.monotonic()
    st, hd, body = http_get(port, src=src, timeout=timeout)
    return st, hd, body, time.monotonic() - t0


def raw_exchange(port, data, src="127.0.0.1", timeout=3.0, wait_close=True, half_close=False):
    """Send bytes on a fresh connection (then end our side of it if
    half_close) and read what comes back until the server closes it or
    `timeout` passes.  Returns (bytes, closed_by_server)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(src, 0))
    got = b""
    closed = False
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may refuse before we finish: its answer, if any, is still readable
        if half_close:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not d:
                closed = True
                break
            got += d
            if not wait_close and b"\r\n\r\n" in got:
                break
    finally:
        s.close()
    return got, closed


def status_of(resp):
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", resp)
    return int(m.group(1)) if m else None


def gunzip(b):
    return gzip.decompress(b)


# ---------------------------------------------------------------- the exposition formats

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse_labels(s):
    out, pos = {}, 0
    while pos < len(s):
        m = _LABEL.match(s, pos)
        assert m, f"bad label set at {s[pos:]!r}"
        assert m.group(1) not in out, f"label {m.group(1)} twice in {s!r}"
        out[m.group(1)] = m.group(2)
        pos = m.end()
    return out


def parse_value(v):
    if v in ("+Inf", "-Inf", "NaN"):
        return float(v.replace("Inf", "inf").replace("NaN", "nan"))
    return float(v)


def parse_exposition(text):
    """Families {name: {"type", "help", "unit"}} and samples [(name, labels, value)]
    of a text 0.0.4 or OpenMetrics body (structure only; checks in the tests)."""
    fams, samples = {}, []
    for n, line in enumerate(text.split("\n")):
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if parts[1] in ("HELP", "TYPE", "UNIT"):
                f = fams.setdefault(parts[2], {})
                key = parts[1].lower()
                assert key not in f, f"line {n + 1}: second {parts[1]} for {parts[2]}"
                f[key] = parts[3] if len(parts) > 3 else ""
            continue
        m = _SAMPLE.match(line)
        assert m, f"line {n + 1} is not a sample: {line!r}"
        samples.append((m.group(1), parse_labels(m.group(3) or ""), parse_value(m.group(4))))
    return fams, samples


def series(samples, name, **want):
    """[(labels, value)] of the samples named `name` whose labels include `want`."""
    return [(l, v) for n, l, v in samples if n == name and all(l.get(k) == x for k, x in want.items())]


def one(samples, name, **want):
    s = series(samples, name, **want)
    assert len(s) == 1, f"{name} {want}: {s}"
    return s[0][1]


def histogram_ok(samples, name, group_labels):
    """Every histogram series of `name`: buckets non-decreasing in le, ending at
    +Inf equal to _count; returns {label tuple: [(le, count)]}."""
    out = {}
    for n, l, v in samples:
        if n != name + "_bucket":
            continue
        key = tuple(l.get(k) for k in group_labels)
        out.setdefault(key, []).append((parse_value(l["le"]), v))
    assert out, f"no {name}_bucket"
    for key, b in out.items():
        les = [le for le, _ in b]
        assert les == sorted(les) and len(set(les)) == len(les), f"{name}{key}: le out of order {les}"
        assert math.isinf(les[-1]), f"{name}{key}: no +Inf bucket"
        counts = [c for _, c in b]
        assert all(x <= y for x, y in zip(counts, counts[1:])), f"{name}{key}: buckets decrease {b}"
        cnt = [v for n, l, v in samples if n == name + "_count" and tuple(l.get(k) for k in group_labels) == key]
        assert cnt == [counts[-1]], f"{name}{key}: _count {cnt} != +Inf bucket {counts[-1]}"
    return out
