#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""bench_serve: `hiddenq serve` beside Debian's prometheus-node-exporter, in one run.

Both are started here on loopback ports (serve with its default settings,
node_exporter with its default collectors), run side by side, and are
stopped by PID at the end.  Figures:

- per scrape: CPU (user + system, from /proc/PID/task/*/schedstat in ns)
  over N scrapes made one after the other, each on a new connection with
  the headers Prometheus 2.42 sends (its Accept, Accept-Encoding: gzip):
  node_exporter's whole process (it does nothing between scrapes); serve's
  HTTP thread, which does all of serve's per-request work (the sampling
  thread's does not depend on scrapes; the whole process less its idle
  rate is printed too, but serve's sampling noise swamps it);
  series (sample lines of the text format), bytes as sent (gzip) and
  uncompressed; RSS afterwards
- steady state: CPU of each over STEADY seconds with one scrape every 15 s
  (Prometheus's usual interval), against the 0.5 % of one CPU the design
  allows serve; serve's share of it by its own clocks (sources and engine,
  HTTP thread, the rest: rendering the snapshot)
- wrk: requests/s and p99 latency with 16 connections (serve's limit per
  address) for 10 s, /metrics without gzip, each

Targets (issue 13): serve's CPU per scrape at most a tenth of
node_exporter's; steady state within 0.5 % of one CPU.  The exit status is 0
whatever the figures: benchmarks report.

Usage: bench_serve.py PATH/TO/hiddenq [STEADY_SECONDS]   (default 60)
"""

import gzip
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
WRK = "/usr/bin/wrk"
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
SCRAPE_HEADERS = {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}
STEADY_TARGET_PCT = 0.5
PER_SCRAPE_RATIO = 0.1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ns(pid, thread=None):
    """CPU time of every thread of pid (or of those named `thread`), ns
    (schedstat: time on a CPU, user and kernel)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            if thread:
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    if f.read().strip() != thread:
                        continue
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended between listdir and open
    return total


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def get(port, headers=None, path="/metrics", timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"bench_serve: timed out waiting for {what}")


class Proc:
    def __init__(self, name, argv, errpath):
        self.name = name
        self.err = open(errpath, "w+b")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.err,
                                  start_new_session=True)

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.p.pid, signal.SIGKILL)
                self.p.wait(timeout=10)

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode("utf-8", "replace")


def series_count(text):
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def per_scrape(proc, port, n, idle_rate_ns_per_s, thread=None):
    """Median over 3 rounds of (CPU per scrape in ns: the whole process less
    its idle rate, or the thread named `thread`; wall per scrape in s)."""
    rounds = []
    for _ in range(3):
        c0, t0 = cpu_ns(proc.p.pid, thread), time.monotonic()
        for _ in range(n):
            st, _, _ = get(port, SCRAPE_HEADERS)
            assert st == 200, st
        c1, t1 = cpu_ns(proc.p.pid, thread), time.monotonic()
        idle = 0 if thread else idle_rate_ns_per_s * (t1 - t0)
        rounds.append(((c1 - c0 - idle) / n, (t1 - t0) / n))
    rounds.sort()
    return rounds[1]


def idle_rate(proc, seconds):
    c0, t0 = cpu_ns(proc.p.pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_ns(proc.p.pid) - c0) / (time.monotonic() - t0)


def self_figures(port):
    """serve's own counters: sample CPU, HTTP thread CPU (seconds)."""
    _, _, body = get(port)
    text = body.decode()

    def val(name):
        m = re.search(rf"^{name} (\S+)$", text, re.M)
        return float(m.group(1)) if m else 0.0
    return val("hiddenq_sample_cpu_seconds_total"), val("hiddenq_scrape_cpu_seconds_total")


def wrk(port, seconds=10, conns=16):
    if not os.access(WRK, os.X_OK):
        return None
    r = subprocess.run([WRK, "-t2", f"-c{conns}", f"-d{seconds}s", "--timeout", "2s", "--latency",
                        f"http://127.0.0.1:{port}/metrics"], capture_output=True, text=True, timeout=seconds + 60)
    out = r.stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    if not m or not p:
        return None
    p99_ms = float(p.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[p.group(2)]
    errs = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return float(m.group(1)), p99_ms, (errs.group(1) if errs else "none"), int(non2xx.group(1)) if non2xx else 0


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    hq = sys.argv[1]
    steady = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    if not os.access(NODE_EXPORTER, os.X_OK):
        print(f"bench_serve: {NODE_EXPORTER} is missing (scripts/setup.sh test installs it): skipped")
        return
    tmp = f"/tmp/bench_serve.{os.getpid()}"
    os.makedirs(tmp, exist_ok=True)
    ne_port = free_port()
    serve = Proc("serve", [hq, "serve", "--listen", "127.0.0.1:0"], f"{tmp}/serve.err")
    ne = Proc("node_exporter", [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{ne_port}"], f"{tmp}/ne.err")
    watch = None
    try:
        def serve_port():
            m = re.search(r"\(port (\d+)\)", serve.stderr())
            return int(m.group(1)) if m else None
        wait_for(lambda: serve_port() is not None or not serve.alive(), 20, "serve to listen")
        if not serve.alive():
            raise SystemExit(f"bench_serve: serve did not start: {serve.stderr()}")
        sp = serve_port()
        wait_for(lambda: get(sp)[0] == 200, 20, "serve's first sample")
        wait_for(lambda: get(ne_port)[0] == 200, 20, "node_exporter")
        time.sleep(3)  # past serve's start-up (eBPF loads, first windows)
        print(f"bench_serve: hiddenq serve (pid {serve.p.pid}, port {sp}) beside "
              f"prometheus-node-exporter 1.5 (pid {ne.p.pid}, port {ne_port}), default settings, "
              f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")

        # ---- per scrape
        rows = {}
        for name, proc, port, n in (("hiddenq serve", serve, sp, 2000), ("node_exporter", ne, ne_port, 100)):
            idle = idle_rate(proc, 5)
            # serve: its HTTP thread (the sampling thread's work does not depend on scrapes, and its
            # 50 ms numa_maps scans every 5 s would drown a 0.1 ms figure); node_exporter: the process
            cpu, wall = per_scrape(proc, port, n, idle, "MHD-single" if proc is serve else None)
            cpu_all = per_scrape(proc, port, n, idle)[0] if proc is serve else cpu
            _, hd, body = get(port, SCRAPE_HEADERS)
            _, _, plain = get(port)
            text = plain.decode()
            _, hd_om, om = get(port, {"Accept": PROMETHEUS_ACCEPT})
            rows[name] = {
                "cpu_ms": cpu / 1e6, "cpu_all_ms": cpu_all / 1e6, "wall_ms": wall * 1e3, "idle_pct": idle / 1e7,
                "series": series_count(text), "gz": len(body), "plain": len(plain), "om": len(om),
                "om_type": hd_om.get("Content-Type", "").split(";")[0],
                "gz_ok": hd.get("Content-Encoding") == "gzip" and gzip.decompress(body).count(b"\n") > 0,
                "rss": rss_kib(proc.p.pid),
            }
        print("\nper scrape (new connection each, Prometheus's Accept and gzip; median of 3 rounds)")
        print(f"  {'':<16}{'CPU/scrape':>12}{'wall':>10}{'series':>8}{'gzip B':>9}{'text B':>9}"
              f"{'served':>30}{'RSS MiB':>9}{'CPU idle':>10}")
        for name, r in rows.items():
            print(f"  {name:<16}{r['cpu_ms']:>9.3f} ms{r['wall_ms']:>7.2f} ms{r['series']:>8}{r['gz']:>9}"
                  f"{r['plain']:>9}{r['om_type']:>30}{r['rss'] / 1024:>9.1f}{r['idle_pct']:>8.3f} %")
        print(f"  (serve's CPU per scrape is its HTTP thread's; the whole process less its idle rate: "
              f"{rows['hiddenq serve']['cpu_all_ms']:.3f} ms, noisy)")
        ratio = rows["hiddenq serve"]["cpu_ms"] / rows["node_exporter"]["cpu_ms"]
        print(f"  serve / node_exporter CPU per scrape: {ratio:.3f} (target <= {PER_SCRAPE_RATIO}: "
              f"{'PASS' if ratio <= PER_SCRAPE_RATIO else 'MISS'}); per series: "
              f"{rows['hiddenq serve']['cpu_ms'] * 1e3 / rows['hiddenq serve']['series']:.2f} µs vs "
              f"{rows['node_exporter']['cpu_ms'] * 1e3 / rows['node_exporter']['series']:.2f} µs")

        # ---- steady state, a scrape every 15 s; `hiddenq watch` beside, for the engine without the exporter
        watch = Proc("watch", [hq, "watch", "--quiet"], f"{tmp}/watch.err")
        time.sleep(3)
        s_sample0, s_http0 = self_figures(sp)
        c0 = {n: cpu_ns(p.p.pid) for n, p in (("serve", serve), ("ne", ne), ("watch", watch))}
        t0 = time.monotonic()
        next_scrape = t0
        scrapes = 0
        while time.monotonic() - t0 < steady:
            if time.monotonic() >= next_scrape:
                get(sp, SCRAPE_HEADERS)
                get(ne_port, SCRAPE_HEADERS)
                scrapes += 1
                next_scrape += 15
            time.sleep(min(1.0, max(0.0, next_scrape - time.monotonic())))
        dt = time.monotonic() - t0
        c1 = {n: cpu_ns(p.p.pid) for n, p in (("serve", serve), ("ne", ne), ("watch", watch))}
        s_sample1, s_http1 = self_figures(sp)
        watch.stop()
        watch_pct = (c1["watch"] - c0["watch"]) / 1e7 / dt
        serve_pct = (c1["serve"] - c0["serve"]) / 1e7 / dt
        ne_pct = (c1["ne"] - c0["ne"]) / 1e7 / dt
        sample_pct = (s_sample1 - s_sample0) * 100 / dt
        http_pct = (s_http1 - s_http0) * 100 / dt
        print(f"\nsteady state over {dt:.0f} s, {scrapes} scrapes 15 s apart (% of one CPU)")
        print(f"  hiddenq serve   {serve_pct:.3f} % (target {STEADY_TARGET_PCT} %: "
              f"{'MET' if serve_pct <= STEADY_TARGET_PCT else 'NOT MET'})")
        print(f"    sources + engine + findings (hiddenq_sample_cpu_seconds_total)  {sample_pct:.3f} %")
        print(f"    HTTP handler (hiddenq_scrape_cpu_seconds_total)                 {http_pct:.4f} %")
        print(f"    the rest: rendering the snapshot, libmicrohttpd, timers         "
              f"{serve_pct - sample_pct - http_pct:.3f} %")
        print(f"  hiddenq watch   {watch_pct:.3f} % (the same engine and sources, no exporter, at the same time)")
        print(f"  node_exporter   {ne_pct:.3f} %")
        print(f"  RSS: serve {rss_kib(serve.p.pid) / 1024:.1f} MiB, node_exporter {rss_kib(ne.p.pid) / 1024:.1f} MiB")

        # ---- wrk
        print("\nwrk -t2 -c16 -d10s /metrics (no gzip, text format)")
        for name, port in (("hiddenq serve", sp), ("node_exporter", ne_port)):
            w = wrk(port)
            if w is None:
                print(f"  {name:<16}wrk missing or its output unreadable")
                continue
            rps, p99, errs, non2xx = w
            print(f"  {name:<16}{rps:>10.0f} req/s   p99 {p99:>8.2f} ms   socket errors: {errs}   non-2xx: {non2xx}")
        print(f"  RSS after: serve {rss_kib(serve.p.pid) / 1024:.1f} MiB, "
              f"node_exporter {rss_kib(ne.p.pid) / 1024:.1f} MiB")
    finally:
        for p in (serve, ne, watch):
            if p:
                p.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
