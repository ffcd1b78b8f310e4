"""hiddenq record: crash-safe recordings that every analysing command reads like a bundle.

- A bundle converted to a recording and back gives the same diagnosis, byte for
  byte in the findings; --from/--to take a slice.
- kill -9 at random moments, 50 times into the same recording: it always opens,
  keeps every sample the recorder had reported committed, and replays.
- A full disk (a small tmpfs the test mounts): a clean stop with exit 3 and the
  samples before it intact; with --max-size under the disk's size, rotation
  keeps it going.
- Damaged files never crash a reader.
- Recordings killed with kill -9 render a report (every 10th of the 50).
"""
import json
import os
import random
import shutil
import signal
import subprocess
import time

import pytest

from conftest import SANITIZED, const, kill_tree, run, steal_bundle


def diag(hq, src, *extra, codes=(0, 1, 2)):
    r = run([hq, "diagnose", "--json", "--replay", str(src), *extra], timeout=60)
    assert r.returncode in codes, repr(r)
    return r.json()


def same_findings(a, b):
    a, b = dict(a), dict(b)
    for d in (a, b):
        d.pop("source", None)
    return a == b


def test_bundle_to_recording_and_back(hq, tmp_path):
    b = steal_bundle(tmp_path / "b", [const(12), const(25)], seconds=20, interval_ms=200)
    rec = tmp_path / "rec.db"
    r = run([hq, "record", "--from-bundle", str(b.root), "-o", str(rec), "--json"], timeout=60)
    assert r.returncode == 0, r.stderr
    s = r.json()
    assert s["written"] == 101 and s["samples_in_file"] == 101 and s["stopped"] == "end of the bundle"
    assert s["stored_bytes"] < s["raw_bytes"] / 3, s  # each sample against the one before it
    d0, d1 = diag(hq, b.root), diag(hq, rec)
    assert same_findings(d0, d1)
    back = tmp_path / "back"
    r = run([hq, "capture", "--replay", str(rec), "-o", str(back)], timeout=60)
    assert r.returncode == 0, r.stderr
    assert same_findings(d0, diag(hq, back))
    # a slice: the middle 10 s (samples carry 1700000000 s + mono as their real time)
    t0 = 1_700_000_000 + 5_000
    part = diag(hq, rec, "--from", f"@{t0 + 5}", "--to", f"@{t0 + 15}")
    assert part["window"]["samples"] == 51 and part["window_s"] == pytest.approx(10, abs=0.01)
    r = run([hq, "diagnose", "--replay", str(rec), "--from", f"@{t0 + 100}"], timeout=30)
    assert r.returncode == 3 and "range" in r.stderr


def test_live_record(hq, tmp_path):
    rec = tmp_path / "live.db"
    r = run([hq, "record", "-o", str(rec), "-i", "250ms", "-n", "21", "--json", "--no-bpf"], timeout=60)
    assert r.returncode == 0, r.stderr
    s = r.json()
    assert s["written"] == 21 and s["stopped"] == "count" and s["file_bytes"] > 0
    d = diag(hq, rec)  # 5 s: past every finding's minimum of data
    assert d["window"]["samples"] == 21 and {f["id"] for f in d["findings"]} >= {"vcpu-oversubscription"}
    m = run([hq, "metrics", "--json", "--replay", str(rec)], timeout=30)
    assert m.returncode == 0 and next(x for x in m.json()["sources"] if x["name"] == "cpu")["available"]
    # a second run continues the same recording
    r = run([hq, "record", "-o", str(rec), "-i", "200ms", "-n", "5", "--json", "--no-bpf"], timeout=60)
    assert r.returncode == 0 and r.json()["samples_in_file"] == 26, r.stdout


def count_samples(hq, rec):
    """The samples the recording holds (its rows, read with SQLite itself), after checking that
    hiddenq opens it and replays them all (a sample the analysis cannot use, e.g. one taken
    while the machine was too loaded to read /proc/stat whole, is still in the file)."""
    import sqlite3
    d = diag(hq, rec, codes=(0, 1, 2, 3))
    con = sqlite3.connect(f"file:{rec}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT count(*) FROM samples").fetchone()[0]
    finally:
        con.close()
    if "error" not in d:
        assert d["window"]["samples"] <= rows, (d["window"], rows)
    return rows


# 50 kills in the plain pass; 10 under ASan, whose memory checks do not need the other 40
KILLS = 10 if SANITIZED else 50


def test_kill9_fifty_times(hq, tmp_path):
    rec = tmp_path / "k.db"
    rng = random.Random(1234)
    committed = 0
    for i in range(KILLS):
        p = subprocess.Popen([hq, "record", "-o", str(rec), "-i", "20ms", "--progress", "--no-bpf", "--no-stalls",
                              "-q"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
        try:
            deadline = time.monotonic() + rng.uniform(0.2, 0.8)
            last = 0
            while time.monotonic() < deadline:
                line = p.stdout.readline()
                if not line:
                    break
                last = int(line)
            os.kill(p.pid, signal.SIGKILL)
            # read through the same buffered reader as readline: communicate() reads the pipe
            # itself and would miss lines readline had already buffered (seen under ASan)
            rest = p.stdout.read()
            err = p.stderr.read()
            p.wait(timeout=10)
            for line in rest.split():
                last = int(line)
        finally:
            kill_tree(p)
        n = count_samples(hq, rec)
        # everything reported committed is there; at most the one being written is not
        assert committed + last <= n <= committed + last + 1, (i, committed, last, n, err)
        committed = n
        if i % 10 == 9:
            # what a kill -9 left renders: the page and its summary, every sample in it
            out = tmp_path / f"k{i}.html"
            r = run([hq, "report", str(rec), "-o", str(out), "--json", "-q"], timeout=60)
            assert r.returncode == 0, (i, r)
            assert r.json()["samples"] == n and out.read_text().startswith("<!DOCTYPE html>"), i
    assert committed >= KILLS
    d = diag(hq, rec)
    assert d["window"]["samples"] == committed


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_stops_cleanly(hq, small_disk):
    rec = small_disk / "full.db"
    r = run([hq, "record", "-o", str(rec), "-i", "10ms", "-d", "60s", "--no-bpf", "--no-stalls", "--json"],
            timeout=90)
    assert r.returncode == 3, r.stdout
    s = r.json()
    assert "disk is full" in s["error"] and "intact" in s["error"], s
    assert s["written"] > 10
    # every sample written before the full disk replays
    assert count_samples(hq, rec) >= s["written"] - 1


def test_max_size_rotates_within_a_small_disk(hq, small_disk):
    rec = small_disk / "rot.db"
    r = run([hq, "record", "-o", str(rec), "-i", "10ms", "-d", "8s", "--max-size", "100K", "--no-bpf",
             "--no-stalls", "--json"], timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    s = r.json()
    assert s["rotated"] > 0 and s["samples_in_file"] < s["written"], s
    assert os.path.getsize(rec) <= 200 * 1024
    n = count_samples(hq, rec)
    assert n >= s["samples_in_file"] - 1 > 0


def test_damaged_recordings_never_crash(hq, tmp_path):
    b = steal_bundle(tmp_path / "b", [const(5), const(5)], seconds=10, interval_ms=100)
    rec = tmp_path / "ok.db"
    assert run([hq, "record", "--from-bundle", str(b.root), "-o", str(rec), "-q"], timeout=60).returncode == 0
    data = rec.read_bytes()
    rng = random.Random(7)
    for k in range(12):
        bad = bytearray(data)
        if k % 3 == 0:
            bad = bad[: rng.randrange(100, len(bad))]  # truncated
        else:
            for _ in range(1 + k):
                i = rng.randrange(100, len(bad))
                bad[i] ^= 1 << rng.randrange(8)
        p = tmp_path / f"bad{k}.db"
        p.write_bytes(bytes(bad))
        for cmd in (["diagnose", "--json"], ["metrics", "--json"], ["watch", "--json", "-w", "3s"]):
            r = run([hq, *cmd, "--replay", str(p)], timeout=60)
            assert r.returncode in (0, 1, 2, 3), (k, cmd, r)
    other = tmp_path / "other.db"
    subprocess.run(["/usr/bin/python3", "-c", f"import sqlite3; c=sqlite3.connect('{other}'); "
                    "c.execute('create table t(x)'); c.commit()"], check=True)
    r = run([hq, "diagnose", "--replay", str(other)], timeout=30)
    assert r.returncode == 3 and "not a hiddenq recording" in r.stderr
    r = run([hq, "record", "-o", str(other), "-n", "1", "-q"], timeout=30)
    assert r.returncode == 3 and "not a hiddenq recording" in r.stderr


def test_bad_arguments(hq, tmp_path):
    for args, says in ((["-n", "3"], "needs -o"), (["-o", "x", "--max-size", "10"], "at least 64K"),
                       (["-o", "x", "--max-age", "3w"], "7d"), (["-o", "x", "-d", "5s", "-n", "3"], "not both"),
                       (["-o", "x", "--from-bundle", "y", "-n", "3"], "not apply"),
                       (["-o", "x", "--json", "--progress"], "pick one")):
        r = run([hq, "record", *args], timeout=30)
        assert r.returncode == 3 and says in r.stderr, (args, r.stderr)


# ---------------------------------------------------------------- shipping: the systemd unit

UNIT = os.path.join(os.path.dirname(__file__), "..", "..", "contrib", "systemd", "hiddenq-record.service")


def unit_settings(text):
    out = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out.setdefault(k, v)
    return out


def test_systemd_unit_verifies_and_its_command_records(hq, tmp_path):
    """systemd-analyze verify finds nothing to say; the unit's own ExecStart
    line, pointed at a file here and bounded with -n, records and replays."""
    text = open(UNIT).read()
    u = unit_settings(text)
    assert u["StateDirectory"] == "hiddenq" and u["ProtectSystem"] == "strict", u
    argv = u["ExecStart"].split()
    assert argv[0] == "/usr/local/bin/hiddenq" and argv[1] == "record", argv
    out = argv[argv.index("-o") + 1]
    assert out.startswith("/var/lib/hiddenq/"), out  # inside the StateDirectory, the one writable place
    exe = shutil.which("systemd-analyze")
    if exe:
        p = tmp_path / "hiddenq-record.service"
        p.write_text(text.replace("/usr/local/bin/hiddenq", hq))
        r = subprocess.run([exe, "verify", "--man=no", str(p)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and not r.stderr.strip(), r
    rec = tmp_path / "unit.db"
    cmd = [hq] + [str(rec) if a == out else a for a in argv[1:]] + ["-n", "3", "-i", "200ms", "--json"]
    r = run(cmd, timeout=60)
    assert r.returncode == 0, repr(r)
    assert r.json()["written"] == 3, r.stdout
    assert count_samples(hq, rec) == 3
    if not exe:
        pytest.skip("systemd-analyze is not installed (package systemd): the command ran, the unit was not verified")


def test_make_install_puts_the_record_unit(tmp_path):
    repo = os.path.join(os.path.dirname(__file__), "..", "..")
    dest = tmp_path / "root"
    r = subprocess.run(["make", "--no-print-directory", "-s", "install", f"DESTDIR={dest}", "PREFIX=/usr"],
                       cwd=repo, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r
    text = (dest / "usr/lib/systemd/system/hiddenq-record.service").read_text()
    execs = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    assert len(execs) == 1 and execs[0].startswith("ExecStart=/usr/bin/hiddenq record "), execs
