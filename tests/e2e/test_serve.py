"""hiddenq serve with real parts: Prometheus, promtool, curl and openssl,
wrk, and hostile clients.

- A replay that has ended serves a frozen snapshot: promtool checks the text
  format, the OpenMetrics body is checked here (# EOF, TYPE/UNIT, suffixes),
  both formats carry the same samples, content negotiation, gzip, HEAD, 404,
  405 with Allow, and 503 before the first sample (live, while eBPF loads).
- A real Prometheus (started here on a free loopback port, fresh TSDB in
  tmp) scrapes a live serve and a replayed one every second; PromQL through
  its HTTP API finds the series with sane values.
- TLS and basic auth through curl with a self-signed certificate and a
  bcrypt hash made here; bad web configs are refused at start with exit 3.
- Hostile clients (also under ASan: HIDDENQ_BIN=build/asan/hiddenq
  HIDDENQ_SANITIZED=1): hundreds of slow partial requests from many
  addresses, oversized headers and URLs, bad methods, odd paths, garbage,
  bodies nobody asked for, pipelining, and a bounded wrk run.  During and
  after each, a normal scrape answers within a second, RSS stays bounded,
  and serve stops cleanly on SIGTERM with nothing from the sanitizers.

Everything runs on 127.0.0.0/8, is bounded in time, and is stopped by PID.
"""
import concurrent.futures
import gzip
import json
import math
import os
import random
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, SANITIZED, const, kill_tree, run, steal_bundle, wait_for
from serve_util import (FINDING_IDS, OM_TYPE, PROMETHEUS_ACCEPT, SLOW, TEXT_TYPE, Serve, child_env, free_port,
                        gunzip, histogram_ok, http_get, one, parse_exposition, raw_exchange, series, status_of,
                        timed_get)

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
WRK = "/usr/bin/wrk"
CURL = "/usr/bin/curl"
OPENSSL = "/usr/bin/openssl"


def need(path):
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} is not installed (scripts/setup.sh test installs it)")


def steal_replay(root, seconds=30):
    """Two vCPUs: cpu0 stolen 5 %, cpu1 30 %, one sample a second."""
    return steal_bundle(root, [const(5), const(30)], seconds=seconds, interval_ms=1000, ticks_per_interval=100)


# ---------------------------------------------------------------- a frozen snapshot

REPLAY_SAMPLES = 31


@pytest.fixture(scope="module")
def frozen(hq, tmp_path_factory):
    """serve of a 30 s replay paced at 100 ms, after its last sample: every
    scrape reads the same snapshot."""
    tmp = tmp_path_factory.mktemp("frozen")
    b = steal_replay(tmp / "b", seconds=REPLAY_SAMPLES - 1)
    with Serve(hq, tmp, "--replay", b.root, "--interval", "100ms") as s:
        def done():
            st, _, body = s.get()
            return st == 200 and f"hiddenq_samples_total {REPLAY_SAMPLES}\n".encode() in body
        wait_for(done, 30 * SLOW, "the replay to end")
        yield s
        s.stop()


def test_text_format_passes_promtool(frozen):
    need(PROMTOOL)
    st, hd, body = frozen.get()
    assert st == 200 and hd["content-type"] == TEXT_TYPE, hd
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True, timeout=30)
    # promtool prints lint problems (names, units, counters without _total) and exits 1 on any
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r
    fams, samples = parse_exposition(body.decode())
    assert not body.decode().rstrip().endswith("# EOF")
    for name, f in fams.items():
        assert f.get("type") in ("counter", "gauge", "histogram"), (name, f)
        assert "unit" not in f, name  # UNIT is OpenMetrics only
        if f["type"] == "counter":
            assert name.endswith("_total"), name


def check_openmetrics(text):
    """The OpenMetrics 1.0 rules we rely on, checked by hand (promtool 2.42
    reads only the text format)."""
    assert text.endswith("\n# EOF\n"), text[-200:]
    assert text.count("# EOF") == 1
    fams, samples = parse_exposition(text[:-len("# EOF\n")])
    suffixes = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count", "_created"),
                "info": ("_info",)}
    for name, f in fams.items():
        assert f.get("type") in suffixes, (name, f)
        assert "help" in f, name
        if f["type"] == "counter":
            assert not name.endswith("_total"), f"counter family {name} keeps _total"
        if "unit" in f:
            assert f["unit"] and name.endswith("_" + f["unit"]), f"UNIT {f['unit']} is not the suffix of {name}"
    # every sample belongs to the family declared last before it, with its type's suffix
    current = None
    for line in text.split("\n"):
        if line.startswith("# TYPE "):
            current = line.split(" ")[2]
            continue
        if not line or line.startswith("#"):
            continue
        name = line.split("{")[0].split(" ")[0]
        assert current, line
        ok = [current + s for s in suffixes[fams[current]["type"]]]
        assert name in ok, f"{name} under family {current} ({fams[current]['type']})"
    return fams, samples


def test_openmetrics_body(frozen):
    st, hd, body = frozen.get(headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert st == 200 and hd["content-type"] == OM_TYPE, hd
    fams, samples = check_openmetrics(body.decode())
    assert fams["hiddenq_cpu_steal_seconds"] == {**fams["hiddenq_cpu_steal_seconds"], "type": "counter",
                                                 "unit": "seconds"}
    assert fams["hiddenq_build"]["type"] == "info"
    assert one(samples, "hiddenq_build_info", version=one_version(samples)) == 1
    histogram_ok(samples, "hiddenq_cpu_steal_window_ratio", ("cpu",))


def one_version(samples):
    v = [l["version"] for n, l, _ in samples if n == "hiddenq_build_info"]
    assert len(v) == 1 and re.match(r"^\d+\.\d+\.\d+", v[0]), v
    return v[0]


def test_both_formats_carry_the_same_samples(frozen):
    _, _, text = frozen.get()
    _, _, om = frozen.get(headers={"Accept": PROMETHEUS_ACCEPT})
    _, ts = parse_exposition(text.decode())
    _, os_ = parse_exposition(om.decode()[:-len("# EOF\n")])
    key = lambda s: (s[0], tuple(sorted(s[1].items())))  # noqa: E731
    # the frozen snapshot: the same values, except the exporter's own request counters
    moving = ("hiddenq_scrapes_total", "hiddenq_scrape_cpu_seconds_total")
    a = {key(s): s[2] for s in ts if s[0] not in moving}
    b = {key(s): s[2] for s in os_ if s[0] not in moving}
    assert a.keys() == b.keys(), (a.keys() ^ b.keys())
    diff = [k for k in a if not (a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])))]
    assert not diff, diff[:5]
    assert len(a) > 50


def test_replayed_values(frozen):
    """The replay's inputs come out as series: steal seconds (30 s at 5 % and
    30 %), the 1 s windows in the histogram, the finding it makes crit."""
    _, _, body = frozen.get()
    _, s = parse_exposition(body.decode())
    steal0 = one(s, "hiddenq_cpu_steal_seconds_total", cpu="0")
    steal1 = one(s, "hiddenq_cpu_steal_seconds_total", cpu="1")
    assert steal0 == pytest.approx(0.05 * (REPLAY_SAMPLES - 1), abs=0.02), steal0
    assert steal1 == pytest.approx(0.30 * (REPLAY_SAMPLES - 1), abs=0.02), steal1
    h = histogram_ok(s, "hiddenq_cpu_steal_window_ratio", ("cpu",))
    b1 = dict(h[("1",)])
    assert b1[0.2] == 0 and b1[0.5] == b1[math.inf] == REPLAY_SAMPLES - 1, b1
    b0 = dict(h[("0",)])
    assert b0[0.02] == 0 and b0[0.1] == b0[math.inf] == REPLAY_SAMPLES - 1, b0
    sev = {l["id"]: v for l, v in series(s, "hiddenq_finding_severity")}
    assert set(sev) == set(FINDING_IDS), sev
    assert all(v in (-1, 0, 1, 2) for v in sev.values()), sev
    assert sev["vcpu-oversubscription"] == 2, sev
    assert one(s, "hiddenq_source_up", source="cpu") == 1


@pytest.mark.parametrize("accept,want", [
    (None, TEXT_TYPE),
    ("*/*", TEXT_TYPE),
    ("text/plain", TEXT_TYPE),
    ("text/plain;version=0.0.4", TEXT_TYPE),
    ("application/openmetrics-text", OM_TYPE),
    ("application/openmetrics-text; version=1.0.0", OM_TYPE),
    ("application/openmetrics-text;version=0.0.1", OM_TYPE),
    (PROMETHEUS_ACCEPT, OM_TYPE),
    ("APPLICATION/OpenMetrics-Text; version=1.0.0", OM_TYPE),
    # refused explicitly, or ranked below the text format
    ("application/openmetrics-text;q=0, text/plain", TEXT_TYPE),
    ("application/openmetrics-text;q=0.2, text/plain;q=0.9", TEXT_TYPE),
    ("text/plain;q=0.5, application/openmetrics-text;q=0.6", OM_TYPE),
    ("application/json", TEXT_TYPE),
])
def test_content_negotiation(frozen, accept, want):
    st, hd, body = frozen.get(headers={"Accept": accept} if accept else {})
    assert st == 200, (st, body[:200])
    assert hd["content-type"] == want, (accept, hd)
    assert body.endswith(b"# EOF\n") == (want == OM_TYPE)
    assert "accept" in hd.get("vary", "").lower(), hd


@pytest.mark.parametrize("accept", [None, "application/openmetrics-text"])
def test_gzip(frozen, accept):
    h = {"Accept": accept} if accept else {}
    _, plain_h, plain = frozen.get(headers=h)
    assert "content-encoding" not in plain_h
    for ae in ("gzip", "gzip, deflate, br", "deflate;q=1, gzip;q=0.5", "GZIP"):
        st, hd, body = frozen.get(headers={**h, "Accept-Encoding": ae})
        assert st == 200 and hd.get("content-encoding") == "gzip", (ae, hd)
        assert "accept-encoding" in hd.get("vary", "").lower(), hd
        assert int(hd["content-length"]) == len(body) < len(plain) / 3, (len(body), len(plain))
        assert gunzip(body) == plain, ae
    for ae in ("deflate", "gzip;q=0", "identity", "gzip;q=0.0, identity"):
        st, hd, body = frozen.get(headers={**h, "Accept-Encoding": ae})
        assert st == 200 and "content-encoding" not in hd and body == plain, (ae, hd)


def test_head_is_get_without_body(frozen):
    for h in ({}, {"Accept-Encoding": "gzip"}, {"Accept": "application/openmetrics-text"}):
        _, gh, gb = frozen.get(headers=h)
        st, hh, hb = frozen.get(method="HEAD", headers=h)
        assert st == 200 and hb == b""
        assert hh["content-type"] == gh["content-type"] and hh.get("content-encoding") == gh.get("content-encoding")
        assert int(hh["content-length"]) == len(gb), (hh, len(gb))


@pytest.mark.parametrize("path", ["/nope", "/metrics/", "/metricsx", "/Metrics", "/favicon.ico", "/metrics/../x",
                                  "/%2e%2e/metrics"])
def test_404(frozen, path):
    st, hd, body = frozen.get(path)
    assert st == 404, (path, st)
    assert hd["content-type"].startswith("text/plain") and b"/metrics" in body


def test_query_string_is_ignored(frozen):
    st, hd, body = frozen.get("/metrics?name[]=up&x=%00")
    assert st == 200 and hd["content-type"] == TEXT_TYPE


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO"])
def test_405_with_allow(frozen, method):
    for path in ("/metrics", "/", "/nope"):
        st, hd, body = frozen.get(path, method=method)
        assert st == 405, (method, path, st)
        assert hd.get("allow") == "GET, HEAD", hd


def test_index_page(frozen):
    st, hd, body = frozen.get("/")
    assert st == 200 and hd["content-type"].startswith("text/html")
    page = body.decode()
    assert '<a href="/metrics">' in page
    for fid in FINDING_IDS:
        assert fid in page, fid
    # the sources, each up or down with a reason
    assert re.search(r"<td>cpu</td><td>up</td>", page), page[:2000]


def test_503_before_the_first_sample(hq, tmp_path):
    """Live, eBPF programs load before the first sample (about 0.2 s here):
    the port is open meanwhile and says so with 503."""
    with Serve(hq, tmp_path) as s:
        first = s.get(timeout=5 * SLOW)
        st = first[0]
        seen = []
        while st != 200:
            assert st == 503, first
            assert first[1]["content-type"].startswith("text/plain") and b"no sample yet" in first[2]
            assert first[1].get("retry-after") == "1", first[1]
            seen.append(st)
            first = s.get(timeout=5 * SLOW)
            st = first[0]
        s.stop()
    if not seen:
        pytest.skip("the first sample was in before the first request: no 503 to see")


# ---------------------------------------------------------------- the static build's plain server

def test_static_build_serves_plain_http(hq, tmp_path):
    """The static binary (copied into VMs) has no libmicrohttpd: it serves
    plain HTTP from a small server of its own.  Same answers for Prometheus
    (promtool accepts the text, content negotiation, HEAD, 404, 405 with
    Allow, a query string ignored, 431 for a huge head); a --web-config is
    refused, not ignored."""
    static = Path(hq).parent / "hiddenq-static"
    if not os.access(static, os.X_OK):
        pytest.skip(f"no static build at {static} (make static)")
    b = steal_replay(tmp_path / "b", seconds=5)
    with Serve(str(static), tmp_path, "--replay", b.root, "--interval", "100ms") as s:
        wait_for(lambda: b"hiddenq_samples_total 6\n" in s.get()[2], 30 * SLOW, "the replay to end")
        st, hd, body = s.get()
        assert st == 200 and hd["content-type"] == TEXT_TYPE and "accept" in hd.get("vary", "").lower(), hd
        assert 'hiddenq_cpu_steal_seconds_total{cpu="1"}' in body.decode(), body[:500]
        if os.access(PROMTOOL, os.X_OK):
            r = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True, timeout=30)
            assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r
        st, hd, om = s.get(headers={"Accept": PROMETHEUS_ACCEPT})
        assert st == 200 and hd["content-type"] == OM_TYPE and om.endswith(b"# EOF\n"), hd
        st, hd, hb = s.get(method="HEAD", headers={"Accept": PROMETHEUS_ACCEPT})
        assert st == 200 and hb == b"" and int(hd["content-length"]) == len(om), hd
        assert s.get("/metrics?x=1")[0] == 200
        assert s.get("/")[0] == 200
        st, _, body = s.get("/nope")
        assert st == 404 and b"/metrics" in body
        st, hd, _ = s.get(method="POST")
        assert st == 405 and hd.get("allow") == "GET, HEAD", hd
        resp, closed = raw_exchange(s.port, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 40000 + b"\r\n\r\n")
        assert status_of(resp) == 431 and closed, resp[:200]
        resp, closed = raw_exchange(s.port, b"garbage\r\n\r\n")
        assert status_of(resp) == 400 and closed, resp[:200]
        assert s.get()[0] == 200  # still serving
        s.stop()
    cfg = tmp_path / "web.ini"
    cfg.write_text("[basic_auth_users]\n")
    r = subprocess.run([str(static), "serve", "--listen", "127.0.0.1:0", "--web-config", str(cfg)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 3 and "plain HTTP only" in r.stderr, r


# ---------------------------------------------------------------- a real Prometheus

class Prometheus:
    """/usr/bin/prometheus on a free loopback port with a fresh TSDB, scraping
    the given targets ({job: port}) every second."""

    def __init__(self, workdir, targets, jobs_yaml=""):
        self.dir = Path(workdir)
        self.targets = targets
        self.jobs_yaml = jobs_yaml
        self.proc = None

    def __enter__(self):
        jobs = "".join(f"  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
                       for job, port in self.targets.items()) + self.jobs_yaml
        cfg = self.dir / "prometheus.yml"
        cfg.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                       "scrape_configs:\n" + jobs)
        for attempt in range(3):  # the free port can be taken between our probe and its bind
            self.port = free_port()
            log = open(self.dir / f"prometheus-{attempt}.log", "wb")
            self.log = log.name
            self.proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={self.dir / f'tsdb-{attempt}'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn",
                 "--storage.tsdb.retention.time=1h", "--query.lookback-delta=10s"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
            log.close()
            try:
                wait_for(self.ready, 60, "prometheus to be ready", poll=0.1)
                return self
            except AssertionError:
                text = Path(self.log).read_text(errors="replace")
                kill_tree(self.proc)
                if "address already in use" not in text:
                    raise AssertionError(f"prometheus did not start:\n{text[-3000:]}")
        raise AssertionError("prometheus found no free port in 3 tries")

    def ready(self):
        assert self.proc.poll() is None, Path(self.log).read_text(errors="replace")[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def __exit__(self, *exc):
        kill_tree(self.proc)
        return False

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            doc = json.load(r)
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, q):
        """[(labels, float value)] of an instant vector."""
        data = self.api("query", query=q)
        assert data["resultType"] == "vector", data
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]


def test_prometheus_scrapes_serve(hq, tmp_path):
    """One Prometheus scrapes a live serve (job live) and a replay of steal
    at 5 % and 30 % (job replay); PromQL finds the series with sane values."""
    need(PROMETHEUS)
    b = steal_replay(tmp_path / "b", seconds=120)
    with Serve(hq, tmp_path) as live, Serve(hq, tmp_path, "--replay", b.root) as rep, \
            Prometheus(tmp_path, {"live": live.port, "replay": rep.port}) as prom:
        # both targets up: Prometheus negotiated OpenMetrics and parsed it
        def targets_up():
            t = prom.api("targets")["activeTargets"]
            return len(t) == 2 and all(x["health"] == "up" for x in t) and t
        try:
            targets = wait_for(targets_up, 30 * SLOW, "both targets up", poll=0.2)
        except AssertionError:
            raise AssertionError(json.dumps(prom.api("targets")["activeTargets"], indent=1))
        assert all(x["lastError"] == "" for x in targets), targets
        # the 30 % vCPU: steal seconds go up, and by 0.3 s a second
        q = 'hiddenq_cpu_steal_seconds_total{job="replay",cpu="1"}'
        first = wait_for(lambda: prom.query(q), 20 * SLOW, q, poll=0.2)[0][1]
        wait_for(lambda: prom.query(q)[0][1] >= first + 2.0, 30 * SLOW, "replayed steal to grow", poll=0.2)
        rate = wait_for(lambda: prom.query(f"rate({q}[8s])"), 10, "a steal rate", poll=0.2)[0][1]
        assert 0.2 <= rate <= 0.4, rate
        # the finding it makes crit, and every finding's severity in range on both
        wait_for(lambda: prom.query('hiddenq_finding_severity{job="replay",id="vcpu-oversubscription"} == 2'),
                 30 * SLOW, "vcpu-oversubscription crit in Prometheus", poll=0.2)
        for job in ("live", "replay"):
            sev = prom.query(f'hiddenq_finding_severity{{job="{job}"}}')
            assert sorted(l["id"] for l, _ in sev) == sorted(FINDING_IDS), (job, sev)
            assert all(v in (-1, 0, 1, 2) for _, v in sev), (job, sev)
            assert all(l["layer"] and l["failure_mode"] for l, _ in sev), sev
            bi = prom.query(f'hiddenq_build_info{{job="{job}"}}')
            assert len(bi) == 1 and bi[0][1] == 1 and re.match(r"\d+\.\d+", bi[0][0]["version"]), bi
            assert prom.query(f'hiddenq_source_up{{job="{job}",source="cpu"}}')[0][1] == 1
            assert prom.query(f'scrape_samples_scraped{{job="{job}"}}')[0][1] > 50
            # the steal windows' histogram: buckets non-decreasing in le, +Inf = _count
            buckets = prom.query(f'hiddenq_cpu_steal_window_ratio_bucket{{job="{job}"}}')
            counts = {l["cpu"]: v for l, v in prom.query(f'hiddenq_cpu_steal_window_ratio_count{{job="{job}"}}')}
            assert counts, job
            for cpu, n in counts.items():
                b_ = sorted((float(l["le"]), v) for l, v in buckets if l["cpu"] == cpu)
                assert b_[-1][0] == math.inf and b_[-1][1] == n, (job, cpu, b_)
                assert all(x[1] <= y[1] for x, y in zip(b_, b_[1:])), (job, cpu, b_)
                assert {0.05, 0.1, 0.2, 0.5} <= {le for le, _ in b_}, b_
        # the live machine: steal never goes backwards (counters clamp)
        live_steal = prom.query('hiddenq_cpu_steal_seconds_total{job="live"}')
        assert live_steal and all(v >= 0 for _, v in live_steal), live_steal
        assert not prom.query('resets(hiddenq_cpu_steal_seconds_total{job="live"}[1m]) > 0')
        # replayed windows: cpu1's all between 0.2 and 0.5
        assert prom.query('hiddenq_cpu_steal_window_ratio_bucket{job="replay",cpu="1",le="0.2"}')[0][1] == 0
        # every PromQL example in docs/prometheus.md runs, and those on steal, severities and cost
        # return series here (not those on recorded series, hiddenq:...: this Prometheus has no rule
        # file; test_rules and tests/vm/test_join_vm.py query them); the burst count sees cpu1's windows
        for q in DOC_PROMQL:
            got = prom.query(q)
            if any(w in q for w in ("steal", "severity", "sample_cpu")) and "hiddenq:" not in q:
                assert got, q
        bursts = prom.query('increase(hiddenq_cpu_steal_window_ratio_count{job="replay",cpu="1"}[5m]) - ignoring(le) '
                            'increase(hiddenq_cpu_steal_window_ratio_bucket{job="replay",cpu="1",le="0.2"}[5m])')
        assert bursts and bursts[0][1] > 0, bursts
        live.stop()
        rep.stop()


DOC = REPO / "docs" / "prometheus.md"
DOC_PROMQL = re.findall(r"```promql\n(.*?)\n```", DOC.read_text(), re.S)


def test_doc_series_table_matches_the_catalog(hq):
    """docs/prometheus.md's series table is generated; it must not drift from the catalog."""
    assert len(DOC_PROMQL) >= 5
    r = run(["/usr/bin/python3", REPO / "scripts" / "prometheus_doc.py", hq, "--check"], timeout=120)
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------- TLS and basic auth

def bcrypt_hash(password):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # deprecated in 3.11, present in Debian's python3.11
    h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 6))  # cost 6: fast tests
    assert h and h.startswith("$2"), h
    return h


def sha512_hash(password):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))
    assert h.startswith("$6$"), h
    return h


def self_signed(tmp):
    need(OPENSSL)
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    r = run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"], timeout=60)
    assert r.returncode == 0, r
    return cert, key


def curl(*args, timeout=20):
    """curl; returns (http code or 0, body bytes, curl exit code)."""
    need(CURL)
    r = subprocess.run([CURL, "-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}", *map(str, args)],
                       capture_output=True, timeout=timeout)
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code or 0), body, r.returncode


def test_tls_and_basic_auth(hq, tmp_path):
    cert, key = self_signed(tmp_path)
    web = tmp_path / "web.ini"
    web.write_text(f"; TLS and two users\n[tls]\ncert_file = {cert}\nkey_file = {key}\n\n[basic_auth_users]\n"
                   f"prometheus = {bcrypt_hash('s3cret pass')}\nalice = {sha512_hash('other')}\n")
    with Serve(hq, tmp_path, "--web-config", web) as s:
        url = f"https://127.0.0.1:{s.port}/metrics"
        ca = ("--cacert", cert)
        wait_for(lambda: curl(*ca, "-u", "prometheus:s3cret pass", url)[0] == 200, 20 * SLOW, "the first sample")
        code, body, _ = curl(*ca, "-u", "prometheus:s3cret pass", url)
        assert code == 200 and b"hiddenq_build_info" in body
        code, body, _ = curl(*ca, "-u", "alice:other", "-H", "Accept: application/openmetrics-text", url)
        assert code == 200 and body.endswith(b"# EOF\n")
        # no credentials, a wrong password, an unknown user, a right password for the other user
        for creds in ((), ("-u", "prometheus:wrong"), ("-u", "bob:s3cret pass"), ("-u", "alice:s3cret pass"),
                      ("-u", "prometheus:"), ("-H", "Authorization: Basic !!!notbase64")):
            code, body, _ = curl(*ca, *creds, url)
            assert code == 401 and b"hiddenq_" not in body, (creds, code, body[:200])
        code, hdr, _ = curl(*ca, "-D", "-", "-o", "/dev/null", url)
        assert code == 401 and b'www-authenticate: basic realm="hiddenq"' in hdr.lower(), hdr
        # every path needs the credentials, the index too
        assert curl(*ca, f"https://127.0.0.1:{s.port}/")[0] == 401
        # the certificate is checked by the client: curl without the CA refuses it
        assert curl("-u", "prometheus:s3cret pass", url)[2] == 60
        # plain HTTP to the TLS port gets nothing useful, and serve carries on
        code, body, rc = curl(f"http://127.0.0.1:{s.port}/metrics")
        assert b"hiddenq_" not in body
        st, closed = raw_exchange(s.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
        assert b"hiddenq_" not in st
        assert curl(*ca, "-u", "prometheus:s3cret pass", url)[0] == 200
        s.stop()


def test_prometheus_scrapes_over_tls_with_basic_auth(hq, tmp_path):
    """The TLS job of docs/prometheus.md: ca_file, basic_auth with a
    password_file; the same job with a wrong password is refused (401)."""
    need(PROMETHEUS)
    cert, key = self_signed(tmp_path)
    web = tmp_path / "web.ini"
    web.write_text(f"[tls]\ncert_file = {cert}\nkey_file = {key}\n[basic_auth_users]\n"
                   f"prometheus = {bcrypt_hash('s3cret pass')}\n")
    pw = tmp_path / "hiddenq.password"
    pw.write_text("s3cret pass")

    def job(name, auth):
        return (f"  - job_name: {name}\n    scheme: https\n    tls_config:\n      ca_file: {cert}\n"
                f"    basic_auth:\n      username: prometheus\n      {auth}\n"
                f"    static_configs:\n      - targets: ['127.0.0.1:{{port}}']\n")
    with Serve(hq, tmp_path, "--web-config", web) as s:
        jobs = (job("tls", f"password_file: {pw}") + job("tls-wrong", "password: wrong")).replace("{port}",
                                                                                                   str(s.port))
        with Prometheus(tmp_path, {}, jobs) as prom:
            def health():
                t = {x["labels"]["job"]: x for x in prom.api("targets")["activeTargets"]}
                return len(t) == 2 and t["tls"]["health"] == "up" and t["tls-wrong"]["health"] == "down" and t
            try:
                t = wait_for(health, 30 * SLOW, "the TLS job up and the wrong password's down", poll=0.2)
            except AssertionError:
                raise AssertionError(json.dumps(prom.api("targets")["activeTargets"], indent=1))
            assert "401" in t["tls-wrong"]["lastError"], t["tls-wrong"]
            assert prom.query('hiddenq_build_info{job="tls"}')[0][1] == 1
        s.stop()


def test_basic_auth_without_tls(hq, tmp_path):
    web = tmp_path / "web.ini"
    web.write_text(f"[basic_auth_users]\nprometheus = {bcrypt_hash('pw')}\n")
    with Serve(hq, tmp_path, "--web-config", web) as s:
        url = f"http://127.0.0.1:{s.port}/metrics"
        wait_for(lambda: curl("-u", "prometheus:pw", url)[0] == 200, 20 * SLOW, "the first sample")
        assert curl(url)[0] == 401
        assert curl("-u", "prometheus:pW", url)[0] == 401
        # method checks come first: a 405 tells nothing about the credentials
        assert curl("-X", "POST", url)[0] == 405
        s.stop()


BAD_WEB_CONFIGS = {  # case: (INI text, or None for no file; what the reason must name)
    "missing": (None, "No such file"),
    "unknown section": ("[tls_config]\ncert_file = /x\n", "[tls_config] is not known"),
    "a password, not a hash": ("[basic_auth_users]\nprometheus = hunter2\n", "crypt hash"),
    "certificate without key": ("[tls]\ncert_file = {cert}\n", "key_file"),
    "not PEM": ("[tls]\ncert_file = {junk}\nkey_file = {junk}\n", "no PEM certificate"),
    "key and certificate swapped": ("[tls]\ncert_file = {key}\nkey_file = {cert}\n", "no PEM certificate"),
    "certificate file missing": ("[tls]\ncert_file = {tmp}/nope.pem\nkey_file = {key}\n", "nope.pem"),
    "user twice": ("[basic_auth_users]\na = {h1}\na = {h2}\n", "given twice"),
    "empty user name": ("[basic_auth_users]\n = {h1}\n", "user ''"),
    "not INI": ("this is not INI [[[\n", "line 1"),
    "NUL bytes": ("\x00\x01\x02[tls]\n", "NUL"),
    "sets nothing": ("; nothing set\n", "neither [tls] nor [basic_auth_users]"),
}


@pytest.mark.parametrize("case", BAD_WEB_CONFIGS)
def test_bad_web_config_refused(hq, tmp_path, case):
    """Refused at start, exit 3, with the reason on one line, before listening."""
    text, reason = BAD_WEB_CONFIGS[case]
    web = tmp_path / "web.ini"
    if text is not None:
        cert, key = self_signed(tmp_path) if "{cert}" in text or "{key}" in text else (None, None)
        junk = tmp_path / "junk.pem"
        junk.write_text("not a certificate\n")
        web.write_text(text.format(cert=cert, key=key, junk=junk, tmp=tmp_path, h1=bcrypt_hash("x"),
                                   h2=bcrypt_hash("y")))
    r = run([hq, "serve", "--listen", "127.0.0.1:0", "--web-config", web], timeout=20 * SLOW)
    assert r.returncode == 3, r
    last = [ln for ln in r.stderr.splitlines() if ln.strip()][-1]
    assert f"web config {web}" in last and reason in last, last
    assert "listening" not in r.stderr


# ---------------------------------------------------------------- hostile clients

PROMPT_S = 1.0                                   # a normal scrape answers within this, during and after
RSS_GROWTH_KIB = (32 if SANITIZED else 8) * 1024  # RSS growth allowed over the warmed-up figure
# ASan keeps freed memory in quarantine (256 MiB by default): smaller, so RSS means something
ASAN_QUARANTINE = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
                                   + ":quarantine_size_mb=16"} if SANITIZED else None


class Hostile:
    """A live serve (default settings), warmed up with ordinary requests of
    every kind; on exit: prompt scrapes, RSS within the bound, a clean stop."""

    def __init__(self, hq, tmp, *args):
        self.serve = Serve(hq, tmp, *args, env=ASAN_QUARANTINE)

    def __enter__(self):
        s = self.serve.__enter__()
        try:
            s.wait_ready()
            for i in range(60):
                h = [{}, {"Accept-Encoding": "gzip"}, {"Accept": PROMETHEUS_ACCEPT},
                     {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}][i % 4]
                s.get(headers=h)
                s.get(method="HEAD")
                s.get("/nope")
                s.get("/")
            self.rss0 = s.rss_kib()
        except BaseException:
            self.serve.__exit__()
            raise
        return self

    @property
    def port(self):
        return self.serve.port

    def assert_prompt(self, src="127.0.0.1", n=3):
        for _ in range(n):
            st, hd, body, dt = timed_get(self.port, src=src, timeout=5 * SLOW)
            assert st == 200 and b"hiddenq_build_info" in body, (st, body[:200])
            assert dt < PROMPT_S, f"a scrape took {dt:.3f} s"

    def __exit__(self, exc_type, *exc):
        try:
            if exc_type is None:
                self.assert_prompt()
                rss = self.serve.rss_kib()
                assert rss - self.rss0 <= RSS_GROWTH_KIB, f"RSS grew from {self.rss0} to {rss} KiB"
                self.serve.stop()
        finally:
            self.serve.__exit__()
        return False


def slow_socket(port, src, first=b"GET /metrics HTTP/1.1\r\nHost: x\r\n"):
    s = socket.socket()
    s.setblocking(False)
    s.bind((src, 0))
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    return [s, first, 0]


def trickle(socks, port):
    """One more byte on every slow socket; a closed one is opened again (the
    attacker does not give up).  Returns how many the server had closed."""
    reopened = 0
    for i, (s, first, sent) in enumerate(socks):
        data = first[sent:sent + 16] if sent < len(first) else b"X"
        try:
            n = s.send(data)
            socks[i][2] += n
            continue
        except BlockingIOError:
            continue
        except OSError:
            pass
        src = s.getsockname()[0]
        s.close()
        socks[i] = slow_socket(port, src)
        reopened += 1
    return reopened


@pytest.mark.parametrize("addresses", [1, 20])
def test_slowloris(hq, tmp_path, addresses):
    """300 connections that send a request a byte at a time and never finish
    it, from one address (16 of them get in: the per-address limit) or from 20
    (15 each: all 64 slots taken).  Scrapes from another address keep being
    answered within a second while the attack goes on."""
    with Hostile(hq, tmp_path) as h:
        srcs = ["127.0.0.2"] if addresses == 1 else [f"127.0.1.{i + 1}" for i in range(addresses)]
        socks = [slow_socket(h.port, srcs[i % len(srcs)]) for i in range(300)]
        try:
            reopened, worst = 0, 0.0
            deadline = time.monotonic() + 8
            rounds = 0
            while time.monotonic() < deadline:
                reopened += trickle(socks, h.port)
                st, _, body, dt = timed_get(h.port, timeout=5 * SLOW)
                assert st == 200 and b"hiddenq_build_info" in body, st
                worst = max(worst, dt)
                rounds += 1
                time.sleep(0.2)  # the attacker's pace, not synchronisation
            assert worst < PROMPT_S, f"a scrape took {worst:.3f} s during the attack"
            assert rounds >= 10
            # the / page counts the connections closed to make room (after the next sample)
            if addresses > 1:
                page = wait_for(lambda: re.search(rb"; (\d+) connections closed", http_get(h.port, "/")[2]),
                                5 * SLOW, "the / page's count")
                assert int(page.group(1)) > 0 and reopened > 0, (page.group(0), reopened)
        finally:
            for s, *_ in socks:
                s.close()


def test_oversized_requests(hq, tmp_path):
    """Headers and URLs beyond the 32 KiB a connection may use: 431/414 or
    the connection closed, never an answer with the metrics, never a crash."""
    cases = {
        "one 64 KiB header": b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n",
        "2000 headers": b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40)
                                                                          for i in range(2000)) + b"\r\n",
        "100 KiB URL": b"GET /" + b"m" * 102400 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "1 MiB request line without end": b"GET /" + b"a" * (1 << 20),
        "64 KiB cookie": b"GET /metrics HTTP/1.1\r\nHost: x\r\nCookie: " + b"c=1; " * 13000 + b"\r\n\r\n",
    }
    with Hostile(hq, tmp_path) as h:
        for name, req in cases.items():
            resp, closed = raw_exchange(h.port, req, timeout=5 * SLOW)
            st = status_of(resp)
            assert st in (413, 414, 431) or (st is None and closed), (name, resp[:300])
            assert b"hiddenq_" not in resp, name
            h.assert_prompt(n=1)


def test_bad_methods_versions_and_framing(hq, tmp_path):
    """Requests an exporter should refuse: the status each gets, and the
    scrape after each still prompt."""
    bad = [
        (b"FOO /metrics HTTP/1.1\r\nHost: x\r\n\r\n", (405,)),
        (b"get /metrics HTTP/1.1\r\nHost: x\r\n\r\n", (405, 400)),
        (b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: x\r\n\r\n", (405, 400)),
        (b"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", (405,)),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", (400, 405, 505, None)),
        (b"GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n", (505, 400)),
        (b"GET /metrics HTTP/1.1\r\n\r\n", (400,)),                         # HTTP/1.1 needs Host
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", (400, 200)),
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", (400,)),
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\n folded: header\r\n\r\n", (400, 200)),
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", (400,)),
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", (400, 413)),
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
         (400, 200)),
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n", (400, 200)),
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", (400, 501, 200)),
        (b"\r\n\r\n\r\n\r\n", ("wait",)),  # empty lines before a request line are skipped (RFC 9112)
    ]
    with Hostile(hq, tmp_path) as h:
        for req, ok in bad:
            resp, closed = raw_exchange(h.port, req, timeout=3 * SLOW)
            st = status_of(resp)
            if ok == ("wait",):
                assert resp == b"", resp[:200]
                continue
            assert st in ok, (req[:80], resp[:300])
            if st is None:
                assert closed, req[:80]
            if st != 200:
                assert b"hiddenq_" not in resp, req[:80]
        h.assert_prompt()


def test_bodies_nobody_asked_for(hq, tmp_path):
    """A GET announcing a big body, a POST sending one slowly, Expect:
    100-continue: serve answers at once from the headers and reads no body."""
    with Hostile(hq, tmp_path) as h:
        for req in (b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n" + b"x" * 100000,
                    b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\nabc",
                    b"POST /metrics HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n",
                    b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"):
            t0 = time.monotonic()
            resp, closed = raw_exchange(h.port, req, timeout=5 * SLOW, wait_close=False)
            st = status_of(resp)
            assert st in (200, 405, 413), (req[:60], resp[:200])
            assert b"100 Continue" not in resp
            assert time.monotonic() - t0 < PROMPT_S * SLOW, req[:60]
        h.assert_prompt()


def test_odd_paths(hq, tmp_path):
    paths = [b"/../../../../etc/passwd", b"/metrics/../../etc/passwd", b"/%2e%2e/%2e%2e/etc/passwd", b"/metrics%00",
             b"/%00", b"/%", b"/%zz", b"//metrics", b"/metrics#frag", b"*", b"http://127.0.0.1/metrics",
             b"/\xff\xfe\x00x", b"/" + b"a/" * 4000, b"metrics", b"/metrics\x7f", b"/%ff%fe", b"/metrics;x=1",
             b"/metrics%20", b"/%2fmetrics", b"/\\metrics"]
    with Hostile(hq, tmp_path) as h:
        for p in paths:
            resp, closed = raw_exchange(h.port, b"GET " + p + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                        timeout=3 * SLOW)
            st = status_of(resp)
            assert st in (400, 404, 414, 431) or (st is None and closed), (p[:60], resp[:200])
            assert b"root:" not in resp and b"hiddenq_" not in resp, p[:60]
        h.assert_prompt()


def test_garbage_bytes(hq, tmp_path):
    rng = random.Random(1)
    blobs = [bytes(rng.randrange(256) for _ in range(rng.choice((1, 7, 100, 1000, 4096, 40000)))) for _ in range(120)]
    blobs += [
        b"\x00" * 5000,
        # a TLS 1.2 ClientHello's start, to a plain HTTP port
        bytes.fromhex("16030100a1010000 9d0303") + bytes(32) + b"\x00\x00\x02\x00\x2f\x01\x00",
        b"\r\n" * 20000,
        b"GET /metrics HTTP/1.1\nHost: x\n\n",  # bare LF
        b"GET\t/metrics\tHTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"\x80\xff: \x00\x01\r\n\r\n",
        b"\x16\x03\x03" + b"\xff" * 70000,
    ]
    with Hostile(hq, tmp_path) as h:
        # a partial line then our FIN can stay open until the timeout (libmicrohttpd reads no further
        # without a new event): at most 2 s each, 32 at a time
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(lambda ib: raw_exchange(h.port, ib[1], src=f"127.0.2.{ib[0] % 200 + 1}",
                                                            timeout=2 * SLOW, half_close=True), enumerate(blobs)))
        for i, (b, (resp, closed)) in enumerate(zip(blobs, answers)):
            assert b"hiddenq_" not in resp or resp.startswith(b"HTTP/1.1 200 "), (i, b[:40], resp[:100])
        h.assert_prompt()


def test_pipelined_requests(hq, tmp_path):
    """100 requests in one write: 100 answers in order, the connection kept."""
    with Hostile(hq, tmp_path) as h:
        reqs = b"".join(b"%s %s HTTP/1.1\r\nHost: x\r\n\r\n" % (m, p)
                        for m, p in [(b"HEAD", b"/metrics"), (b"GET", b"/nope"), (b"HEAD", b"/")] * 33)
        reqs += b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        resp, closed = raw_exchange(h.port, reqs, timeout=10 * SLOW)
        codes = [int(c) for c in re.findall(rb"HTTP/1\.1 (\d{3}) ", resp)]
        assert codes == [200, 404, 200] * 33 + [200], codes
        assert closed and b"hiddenq_build_info" in resp
        h.assert_prompt()


def wrk(port, seconds, conns, threads=2, path="/metrics"):
    """A bounded wrk run: (requests/s, p99 ms, non-2xx, socket errors, requests)."""
    need(WRK)
    r = subprocess.run([WRK, f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "2s", "--latency",
                        f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, timeout=seconds + 30)
    out = r.stdout
    assert r.returncode == 0, (r.returncode, out, r.stderr)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [0, 0])[1])
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = sum(map(int, m.groups())) if m else 0
    n = int(re.search(r"(\d+) requests in", out).group(1))
    return rps, p99, non2xx, errors, n, out


def test_wrk(hq, tmp_path):
    """5 s of wrk with 16 connections (the per-address limit), then 32 (half
    refused): every answer a 200, and the scrape after it prompt."""
    with Hostile(hq, tmp_path) as h:
        rps, p99, non2xx, errors, n, out = wrk(h.port, 5, 16)
        # every answer a 200; a reset connection once in 100,000 requests was seen under ASan on a
        # machine at load 6 (notes: not understood yet), so socket errors are bounded, not zero
        assert non2xx == 0 and errors <= n // 50000, out
        assert rps > (50 if SANITIZED else 500), out
        assert p99 < 1000 * PROMPT_S, out
        rps, p99, non2xx, errors, n, out = wrk(h.port, 5, 32)
        assert non2xx == 0 and n > 1000 / SLOW, out
        h.assert_prompt()


# ---------------------------------------------------------------- shipping: the systemd unit

UNIT = REPO / "contrib" / "systemd" / "hiddenq-serve.service"


def unit_for(hq, tmp, text=None):
    """The unit with ExecStart pointing at the binary under test."""
    p = tmp / "hiddenq-serve.service"
    p.write_text((text if text is not None else UNIT.read_text()).replace("/usr/local/bin/hiddenq", hq))
    return p


def systemd_analyze_verify(path):
    exe = shutil.which("systemd-analyze")
    if not exe:
        pytest.skip("systemd-analyze is not installed (package systemd): the unit cannot be checked here")
    # --man=no: the man page is not installed where man looks; warnings go to stderr with exit 0
    return subprocess.run([exe, "verify", "--man=no", str(path)], capture_output=True, text=True, timeout=60)


def test_systemd_unit_verifies(hq, tmp_path):
    r = systemd_analyze_verify(unit_for(hq, tmp_path))
    assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), r
    # and the check is not blind: a value systemd cannot parse is reported (on stderr, exit 0)
    bad = unit_for(hq, tmp_path, UNIT.read_text().replace("ProtectSystem=strict", "ProtectSystem=strictly"))
    r = systemd_analyze_verify(bad)
    assert "strictly" in r.stderr, r


def test_systemd_unit_locks_down(hq):
    """What the unit promises: root for eBPF, the rest taken away."""
    unit = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            unit.setdefault(k, v)
    assert unit["ExecStart"].startswith("/usr/local/bin/hiddenq serve --listen 127.0.0.1:9814"), unit["ExecStart"]
    for k, v in {"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
                 "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectControlGroups": "yes",
                 "DevicePolicy": "closed", "RestartPreventExitStatus": "3"}.items():
        assert unit.get(k) == v, (k, unit.get(k))
    caps = set(unit["CapabilityBoundingSet"].split())
    assert caps == {"CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN", "CAP_SYS_RESOURCE", "CAP_SYS_PTRACE",
                    "CAP_DAC_READ_SEARCH", "CAP_SYSLOG"}, caps
    # every capability kept is explained in a comment
    for c in caps:
        assert re.search(rf"^# {c}\s+\S", UNIT.read_text(), re.M), c


def test_unit_capabilities_keep_every_source(hq, tmp_path):
    """Root limited to the unit's bounding set, with no-new-privileges (as
    systemd would start it), keeps every source that full root has up."""
    setpriv = shutil.which("setpriv")
    if not setpriv or os.geteuid() != 0:
        pytest.skip("needs root and setpriv (util-linux)")
    caps = re.search(r"^CapabilityBoundingSet=(.*)$", UNIT.read_text(), re.M).group(1).split()
    bset = "-all," + ",".join("+" + c[4:].lower() for c in caps)

    def up(*prefix):
        s = Serve(hq, tmp_path)
        s.args = [*prefix, *s.args]
        with s:
            s.wait_ready()
            # a few samples: the slow sources (kmsg, cgroups, tasks) have had their turn
            wait_for(lambda: int(re.search(rb"hiddenq_samples_total (\d+)", s.get()[2]).group(1)) >= 3, 20 * SLOW,
                     "three samples")
            _, _, body = s.get()
            s.stop()
        up = dict(re.findall(r'hiddenq_source_up\{source="(\w+)"\} (\d)', body.decode()))
        # vms is up while VM processes run here: other tests' guests come and go between the runs
        up.pop("vms", None)
        return up

    root = up()
    bounded = up(setpriv, f"--bounding-set={bset}", "--inh-caps=-all", "--no-new-privs")
    assert bounded == root, {k: (root.get(k), bounded.get(k)) for k in root.keys() | bounded.keys()
                             if root.get(k) != bounded.get(k)}
    # and the check can fail: without CAP_BPF and CAP_PERFMON the eBPF sources go down
    if root.get("runqlat") == "1":
        fewer = up(setpriv, "--bounding-set=-all,+sys_ptrace,+dac_read_search,+syslog", "--inh-caps=-all",
                   "--no-new-privs")
        assert fewer["runqlat"] == "0" and fewer["cpu"] == "1", fewer


def test_make_install_puts_the_unit(tmp_path):
    dest = tmp_path / "root"
    r = subprocess.run(["make", "--no-print-directory", "-s", "install", f"DESTDIR={dest}", "PREFIX=/usr"],
                       cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r
    unit = dest / "usr/lib/systemd/system/hiddenq-serve.service"
    assert (dest / "usr/bin/hiddenq").is_file() and (dest / "usr/share/man/man1/hiddenq.1").is_file()
    text = unit.read_text()
    assert re.search(r"^ExecStart=/usr/bin/hiddenq serve ", text, re.M), text
    assert "/usr/local" not in text
    # the installed unit verifies with its binary where ExecStart says (under DESTDIR here)
    r = systemd_analyze_verify(unit_for(str(dest / "usr/bin/hiddenq"), tmp_path,
                                        text.replace("/usr/bin/hiddenq", "/usr/local/bin/hiddenq")))
    assert r.returncode == 0 and not r.stderr.strip(), r
