"""hiddenq top: the live view in a real terminal, replay, and plain blocks.

- A dedicated tmux server (its own socket, 80x24, no status line) runs `top`;
  the test sends keys and reads the screen back with capture-pane, polling
  for what it expects with a deadline.  Live: it draws the panels, help
  opens and closes, pause freezes the sample shown and space resumes it,
  number keys and Tab change the panel, s sorts, the screen survives
  resizes to 100x30 and 60x20, and q exits with status 0.  The server is
  killed by its PID whatever happens.
- Replay of a synthetic bundle (and of the recording made from it) whose
  steal per vCPU is chosen here: the figures on screen are the bundle's,
  right/left/PgDn/Home move through time, a step back re-reads a bounded
  number of samples, sorting orders by the values, and colours (or reverse
  video without them) follow the thresholds.
- Off a terminal: one block of plain lines (or one JSON object) per sample,
  with the same figures; -n bounds it; bad arguments exit 3.
"""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time

import pytest

from conftest import SANITIZED, SANITIZER_MARKS, T0_NS, assert_unusable, const, run, steal_bundle

TMUX = shutil.which("tmux")
SLOW = 4.0 if SANITIZED else 1.0          # deadlines stretch under ASan, nothing else does
BIG_STEP = 60                             # PgUp/PgDn at 1 s samples: a minute
REAL0 = 1700000000 + T0_NS // 10**9       # CLOCK_REALTIME (s) of a steal_bundle's first sample


def online_cpus():
    """The CPUs /proc/stat has a line for: the rows top can show."""
    with open("/proc/stat") as f:
        return sum(1 for ln in f if re.match(r"cpu\d+ ", ln))


def cpu1_steal(k):
    """Steal of vCPU 1 in interval k: varied, known, below 50 %."""
    return float((k * 7) % 50)


def expected_steal(sample_no):
    """What top shows for sample number n (1-based): the rate over interval n-2."""
    return {0: 5.0, 1: cpu1_steal(sample_no - 2)}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """10 minutes at 1 s: vCPU 0 stolen 5 %, vCPU 1 cpu1_steal(k); 100 ticks a second, so rates are exact."""
    root = tmp_path_factory.mktemp("top") / "b"
    return steal_bundle(root, [const(5), cpu1_steal], seconds=600, interval_ms=1000, ticks_per_interval=100)


class Tmux:
    """One tmux server for one test: its own socket and config, killed by PID in close().

    The pane runs `sh -c 'top ...; echo hiddenq-exit=$?; exec sleep'`: the shell reaps top and
    prints its status.  tmux's own record of a dead pane's status (remain-on-exit) is not used:
    tmux 3.3a here now and then misses the SIGCHLD and leaves the pane's process a zombie.
    """

    def __init__(self, tmp, argv, width=80, height=24, env=None):
        if not TMUX:
            pytest.fail("tmux is not installed (make setup-test installs it)")
        self.sock = str(tmp / "tmux.sock")
        conf = tmp / "tmux.conf"
        conf.write_text("set -g status off\nset -g history-limit 100\nset -g default-terminal screen\n")
        e = dict(os.environ)
        e.pop("NO_COLOR", None)
        e.pop("TMUX", None)
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        e.update(env or {})
        self.env = e
        self.server_pid = self.pane_pid = None
        cmd = f"{shlex.join(argv)}; echo hiddenq-exit=$?; exec sleep 300"
        subprocess.run([TMUX, "-S", self.sock, "-f", str(conf), "new-session", "-d", "-x", str(width), "-y",
                        str(height), cmd], env=e, check=True, timeout=10)
        self.server_pid = int(self.tmux("display", "-p", "#{pid}"))
        self.pane_pid = int(self.tmux("display", "-p", "#{pane_pid}"))

    def tmux(self, *args):
        r = subprocess.run([TMUX, "-S", self.sock, *args], capture_output=True, text=True, timeout=10,
                           env=self.env)
        assert r.returncode == 0, f"tmux {args}: {r.stderr}"
        return r.stdout.strip()

    def screen(self, escapes=False):
        r = subprocess.run([TMUX, "-S", self.sock, "capture-pane", "-p", *(["-e"] if escapes else [])],
                           capture_output=True, timeout=10, env=self.env)
        assert r.returncode == 0, r.stderr
        return r.stdout.decode("utf-8", "replace").split("\n")[:-1]

    def keys(self, *keys):
        self.tmux("send-keys", *keys)

    def wait(self, pred, what, timeout=10.0, escapes=False):
        """Poll the screen until pred(lines) holds; fail with the last screen at the deadline."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            lines = self.screen(escapes)
            if pred(lines):
                return lines
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; screen:\n" + "\n".join(lines))
            time.sleep(0.05)

    def exit_status(self, timeout=10.0):
        """top's exit status as its shell printed it (None if killed by a signal: the shell says 128+N)."""
        lines = self.wait(lambda ls: any(ln.startswith("hiddenq-exit=") for ln in ls), "top to exit",
                          timeout=timeout)
        code = int(next(ln for ln in lines if ln.startswith("hiddenq-exit="))[len("hiddenq-exit="):])
        return code, lines

    def _children(self, pid):
        try:
            kids = []
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    kids += [int(x) for x in f.read().split()]
            return kids
        except OSError:
            return []

    def close(self):
        """Kill what this test started, by PID: top (the shell's child), the shell, the server."""
        for pid in self._children(self.pane_pid) + [self.pane_pid, self.server_pid]:
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.fixture
def term(tmp_path):
    made = []

    def start(argv, **kw):
        t = Tmux(tmp_path, argv, **kw)
        made.append(t)
        return t
    yield start
    for t in made:
        t.close()


# ---------------------------------------------------------------- reading the screen

ROW = re.compile(r"^cpu(\d+)\s+(-|\d+\.\d)\s+(-|\d+\.\d)(.*)$")


def sample_no(lines):
    m = re.search(r"\bsample (\d+)\b", lines[0]) if lines else None
    return int(m.group(1)) if m else None


def cpu_rows(lines):
    """[(cpu, steal, busy, history)] in screen order."""
    out = []
    for ln in lines[3:]:
        m = ROW.match(ln)
        if m:
            out.append((int(m.group(1)), None if m.group(2) == "-" else float(m.group(2)),
                        None if m.group(3) == "-" else float(m.group(3)), m.group(4).strip()))
    return out


def steal_shown(lines):
    return {c: s for c, s, _, _ in cpu_rows(lines)}


def at_sample(n):
    # the whole frame of sample n: tmux may show a frame half drawn (the header already new, a row
    # not yet), so the rows' figures are part of what is waited for, and asserted again after
    return lambda lines: (sample_no(lines) == n and len(cpu_rows(lines)) == 2
                          and steal_shown(lines) == expected_steal(n))


def quits_cleanly(t):
    """q: top exits 0, gives the screen back, and no sanitizer spoke."""
    t.keys("q")
    code, lines = t.exit_status()
    assert code == 0, "\n".join(lines)
    no_sanitizer_report(lines)


def no_sanitizer_report(lines):
    text = "\n".join(lines)
    for m in SANITIZER_MARKS:
        assert m not in text, text


def sgr(code, value):
    """An SGR sequence that sets `code` (31 red, 7 reverse ...), then the value, right-aligned."""
    return r"\x1b\[(?:\d+;)*%d(?:;\d+)*m\s*%.1f(?![\d])" % (code, value)


def plain(ln):
    return re.sub(r"\x1b\[[0-9;]*m", "", ln)


def screen_is_clean(lines, width, height):
    """The whole screen is the current layout: one title on top, the keys at the bottom, nothing wider."""
    assert len(lines) == height, (len(lines), lines)
    assert lines[0].startswith(" hiddenq top"), lines[0]
    assert sum(1 for ln in lines if "hiddenq top  " in ln) == 1, lines
    assert sum(1 for ln in lines if re.search(r"1 CPU\s+2 Runq", ln)) == 1, lines
    assert lines[1].lstrip().startswith("1 CPU"), lines[1]
    assert lines[-1].startswith("h help"), lines[-1]
    for ln in lines:
        assert len(ln) <= width, (width, ln)


# ---------------------------------------------------------------- live, in a terminal

def test_live_keys_resize_and_quit(hq, term):
    t = term([hq, "top", "-i", "500ms"])
    lines = t.wait(lambda ls: ls and "hiddenq top  live" in ls[0] and len(cpu_rows(ls)) >= 1 and
                   sample_no(ls), "the first live frame")
    screen_is_clean(lines, 80, 24)
    ncpu = len(cpu_rows(lines))
    assert ncpu == online_cpus(), lines
    assert any("findings" in ln or re.match(r"^(CRIT|WARN) ", ln) for ln in lines[-2:-1]), lines[-2]

    # help opens over the panel and any key closes it
    t.keys("h")
    t.wait(lambda ls: any("hiddenq top: keys" in ln for ln in ls), "the help")
    t.keys("x")
    t.wait(lambda ls: not any("hiddenq top: keys" in ln for ln in ls) and len(cpu_rows(ls)) == ncpu,
           "the help to close")

    # pause: the sample shown stops advancing while the engine keeps sampling
    t.wait(lambda ls: (sample_no(ls) or 0) >= 3, "a few samples")
    t.keys("Space")
    lines = t.wait(lambda ls: "PAUSED" in ls[0], "PAUSED in the title")
    frozen, frozen_rows = sample_no(lines), cpu_rows(lines)
    deadline = time.monotonic() + 2.5 * SLOW        # five intervals: unpaused it would move
    while time.monotonic() < deadline:
        lines = t.screen()
        assert sample_no(lines) == frozen and cpu_rows(lines) == frozen_rows, lines
        time.sleep(0.1)
    t.keys("Space")
    t.wait(lambda ls: "PAUSED" not in ls[0] and (sample_no(ls) or 0) > frozen + 2,
           "the samples to move again (past the ones taken while paused)")

    # panels by number and by Tab
    t.keys("3")
    lines = t.wait(lambda ls: any(ln.startswith("Memory:") for ln in ls) and any(ln.startswith("NUMA node")
                                                                                  for ln in ls),
                   "the memory panel")
    assert not cpu_rows(lines)
    t.keys("Tab")
    t.wait(lambda ls: any(ln.startswith("IO:") for ln in ls) and any(ln.startswith("device") for ln in ls),
           "the IO panel after Tab")
    t.keys("BTab")
    t.wait(lambda ls: any(ln.startswith("Memory:") for ln in ls), "the memory panel after Shift-Tab")
    t.keys("1")
    t.wait(lambda ls: len(cpu_rows(ls)) == ncpu, "the CPU panel again")

    # sort: by steal, then reversed; the panel says so
    t.keys("s")
    t.wait(lambda ls: "sorted by steal %" in ls[2], "sorted by steal")
    t.keys("r")
    t.wait(lambda ls: "sorted by steal %, reversed" in ls[2], "the reversed sort")

    # resize: the layout follows, nothing of the old one is left over
    t.tmux("resize-window", "-x", "100", "-y", "30")
    lines = t.wait(lambda ls: len(ls) == 30 and ls[-1].startswith("h help") and len(cpu_rows(ls)) == ncpu,
                   "the 100x30 layout")
    screen_is_clean(lines, 100, 30)
    t.tmux("resize-window", "-x", "60", "-y", "20")
    lines = t.wait(lambda ls: len(ls) == 20 and ls[-1].startswith("h help") and len(cpu_rows(ls)) == ncpu,
                   "the 60x20 layout")
    screen_is_clean(lines, 60, 20)
    # still usable there: a key still answers, and frames still come
    n = sample_no(lines)
    t.keys("4")
    t.wait(lambda ls: any(ln.startswith("IO:") for ln in ls) and (sample_no(ls) or 0) > n,
           "the IO panel at 60x20 and a new frame")

    t0 = time.monotonic()
    quits_cleanly(t)
    assert time.monotonic() - t0 < 5 * SLOW, "q must not wait for more than the sampler's last tick"


# ---------------------------------------------------------------- replay, in a terminal

def test_replay_shows_the_bundle_and_steps_through_it(hq, term, bundle):
    t = term([hq, "top", "--replay", str(bundle.root)])
    # it opens paused at the second sample (the first with a rate)
    lines = t.wait(at_sample(2), "sample 2")
    assert "PAUSED" in lines[0]
    assert steal_shown(lines) == expected_steal(2)
    # busy is the bundle's 50 % on both
    assert [b for _, _, b, _ in cpu_rows(lines)] == [50.0, 50.0]
    t1 = re.search(r"\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d)", lines[0]).group(1)

    # right: one sample each; the time and the figures follow
    t.keys("Right", "Right", "Right")
    lines = t.wait(at_sample(5), "sample 5")
    assert steal_shown(lines) == expected_steal(5)
    assert re.search(r"\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d)", lines[0]).group(1) != t1
    hist5 = dict((c, h) for c, _, _, h in cpu_rows(lines))
    # PgDn: a minute of samples; the history grew by as many points (up to the width)
    t.keys("NPage")
    lines = t.wait(at_sample(5 + BIG_STEP), "a minute later")
    assert steal_shown(lines) == expected_steal(5 + BIG_STEP)
    hist = dict((c, h) for c, _, _, h in cpu_rows(lines))
    assert len(hist[1]) > len(hist5[1]) and len(set(hist[1])) > 1, (hist5, hist)
    # left steps back one: the figures of the sample before
    t.keys("Left")
    lines = t.wait(at_sample(4 + BIG_STEP), "one sample back")
    assert steal_shown(lines) == expected_steal(4 + BIG_STEP)

    # sorting by steal puts the vCPU with more steal first, r turns it round
    t.keys("End")
    lines = t.wait(at_sample(601), "the last sample")
    assert "END" in lines[0]
    want = expected_steal(601)
    assert steal_shown(lines) == want
    t.keys("s")
    lines = t.wait(lambda ls: "sorted by steal %" in ls[2], "sorted by steal")
    order = [c for c, _, _, _ in cpu_rows(lines)]
    assert order == sorted(want, key=lambda c: -want[c]), (order, want)
    t.keys("r")
    lines = t.wait(lambda ls: "reversed" in ls[2], "the reversed sort")
    assert [c for c, _, _, _ in cpu_rows(lines)] == list(reversed(order))

    # a step back from the end re-reads what the engine needs, not the whole input
    t.keys("Left")
    lines = t.wait(at_sample(600), "one back from the end")
    assert steal_shown(lines) == expected_steal(600)
    m = re.search(r"back to sample 600: (\d+) samples re-read", lines[-1])
    assert m, lines[-1]
    reread = int(m.group(1))
    # the engine's longest window (60 s) and step (10 s), the 120-point history, a little slack
    assert 60 < reread <= 200, reread

    # colours follow the thresholds: vCPU 1's steal at or above 20 % is crit (red), vCPU 0's 5 % ok (green)
    want = expected_steal(600)
    assert want[1] >= 20 and want[0] < 10
    esc = t.screen(escapes=True)
    row1 = next(ln for ln in esc if plain(ln).startswith("cpu1 "))
    row0 = next(ln for ln in esc if plain(ln).startswith("cpu0 "))
    assert re.search(sgr(31, want[1]), row1), repr(row1)
    assert re.search(sgr(32, want[0]), row0), repr(row0)
    # and the CPU tab is red: its finding is crit
    tabs = next(ln for ln in esc if plain(ln).lstrip().startswith("1 CPU"))
    assert re.search(r"\x1b\[(?:\d+;)*31(?:;\d+)*m(?:\x1b\[[0-9;]*m)* 1 CPU", tabs), repr(tabs)

    # the findings panel judges the last minute: vCPU 1's steal is crit there too
    t.keys("7")
    lines = t.wait(lambda ls: any(ln.startswith("CRIT  hypervisor CPU") for ln in ls), "the findings panel")
    assert any(re.match(r"^(CRIT|WARN|ok|\?)\s", ln) for ln in lines[3:-2])

    # Home: back to the start, with its own figures
    t.keys("1", "Home")
    lines = t.wait(at_sample(2), "the start again")
    assert steal_shown(lines) == expected_steal(2)
    quits_cleanly(t)


def test_replay_without_colours_uses_reverse_video(hq, term, bundle):
    """NO_COLOR (or a monochrome terminal): crit values in bold reverse video."""
    t = term([hq, "top", "--replay", str(bundle.root)], env={"NO_COLOR": "1"})
    t.wait(at_sample(2), "sample 2")
    t.keys("End")
    lines = t.wait(at_sample(601), "the last sample")
    want = expected_steal(601)
    esc = t.screen(escapes=True)
    row1 = next(ln for ln in esc if plain(ln).startswith("cpu1 "))
    assert re.search(sgr(7, want[1]), row1), repr(row1)
    assert not re.search(r"\x1b\[(?:\d+;)*3[1-7](?:;\d+)*m", "".join(esc)), "no colour with NO_COLOR"
    quits_cleanly(t)


# ---------------------------------------------------------------- not on a terminal

BLOCK = re.compile(r"^hiddenq \S+ top — (\S+), sample (\d+), (.*)$")


def blocks(text):
    """[(sample number, {cpu: steal}, lines)] of top's plain output."""
    out = []
    for ln in text.splitlines():
        m = BLOCK.match(ln)
        if m:
            out.append((int(m.group(2)), {}, []))
            continue
        if not out:
            continue
        out[-1][2].append(ln)
        m = ROW.match(ln)
        if m and not out[-1][1].get("_cpu_done"):
            out[-1][1][int(m.group(1))] = float(m.group(2))
        if ln.startswith("== Runq"):
            out[-1][1]["_cpu_done"] = True
    for _, d, _ in out:
        d.pop("_cpu_done", None)
    return out


def test_plain_blocks_when_not_a_terminal(hq, bundle):
    # no --batch: stdout is a pipe, so plain lines; -n bounds the blocks
    r = run([hq, "top", "--replay", str(bundle.root), "-n", "5"], timeout=60)
    assert r.returncode == 0, repr(r)
    bs = blocks(r.stdout)
    assert [n for n, _, _ in bs] == [2, 3, 4, 5, 6]
    for n, steal, lines in bs:
        assert steal == expected_steal(n), (n, steal)
        assert lines[-2].startswith("findings:") or any(ln.startswith("findings:") for ln in lines)
    # every panel is in each block
    for name in ("CPU", "Runq", "Memory", "IO", "Net", "VMs"):
        assert any(ln.startswith(f"== {name}:") for ln in bs[0][2]), name

    # to the end of the input without -n: one block per sample after the first
    r = run([hq, "top", "--replay", str(bundle.root), "--batch"], timeout=120)
    assert r.returncode == 0, repr(r)
    bs = blocks(r.stdout)
    assert len(bs) == 600 and bs[-1][0] == 601
    assert bs[-1][1] == expected_steal(601)
    assert "CRIT vcpu-oversubscription" in re.split(r"hiddenq \S+ top — ", r.stdout)[-1]


def test_json_blocks_and_a_slice_of_a_recording(hq, bundle, tmp_path):
    rec = tmp_path / "rec.db"
    r = run([hq, "record", "--from-bundle", str(bundle.root), "-o", str(rec), "-q"], timeout=120)
    assert r.returncode == 0, repr(r)
    # from interval 100 on: the slice's first block is its second sample
    r = run([hq, "top", "--replay", str(rec), "--from", f"@{REAL0 + 100}", "--to", f"@{REAL0 + 110}",
             "--json"], timeout=60)
    assert r.returncode == 0, repr(r)
    docs = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert len(docs) == 10, len(docs)      # samples 100..110 in the slice, the first has no rate
    for i, d in enumerate(docs):
        assert d["source"] == str(rec)
        assert d["real_ns"] == (REAL0 + 101 + i) * 10**9, d["time"]
        cpu = d["panels"]["CPU"]["tables"][0]
        assert cpu["units"]["steal_pct"] == "%"
        got = {int(row["labels"]["cpu"]): row["steal_pct"] for row in cpu["rows"]}
        assert got == {0: 5.0, 1: cpu1_steal(100 + i)}, (i, got)
        sev = {int(row["labels"]["cpu"]): row["severity"]["steal_pct"] for row in cpu["rows"]}
        assert sev[1] == ("crit" if cpu1_steal(100 + i) >= 20 else "warn" if cpu1_steal(100 + i) >= 10 else "ok")
        assert {f["id"] for f in d["findings"]} >= {"vcpu-oversubscription", "guest-cpu-saturation"}


def test_live_blocks(hq):
    t0 = time.monotonic()
    r = run([hq, "top", "-n", "2", "-i", "500ms", "--json"], timeout=60)
    assert r.returncode == 0, repr(r)
    docs = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert len(docs) == 2 and [d["sample"] for d in docs] == [2, 3]
    assert docs[0]["source"] == "live"
    assert 0.4e9 <= docs[1]["mono_ns"] - docs[0]["mono_ns"] <= 0.6e9 + (2e9 if SANITIZED else 0.2e9)
    rows = docs[1]["panels"]["CPU"]["tables"][0]["rows"]
    assert len(rows) == online_cpus()
    for row in rows:
        # busy seconds per second of wall time: a tick (10 ms) of jitter is 2 % of a 500 ms interval
        assert 0 <= row["busy_pct"] <= 104, row
    assert time.monotonic() - t0 < 20 * SLOW


def test_help_and_bad_arguments(hq, bundle):
    r = run([hq, "top", "--help"])
    assert r.returncode == 0 and "--replay" in r.stdout and "PgUp" in r.stdout and "--batch" in r.stdout
    for args in (["--interval", "1ms"], ["--from", "@1700000000"], ["--replay", "/nonexistent/x"], ["-n", "0"],
                 ["--bogus"], ["extra"], ["--window", "1s"],
                 ["--replay", str(bundle.root), "--from", "@9999999999"],
                 ["--replay", str(bundle.root), "--from", f"@{REAL0 + 20}", "--to", f"@{REAL0 + 10}"]):
        assert_unusable(run([hq, "top", *args], timeout=30))
    r = run([hq, "top", "--json", "--replay", "/nonexistent/x"], timeout=30)
    assert r.returncode == 3 and "error" in json.loads(r.stdout.splitlines()[-1])
