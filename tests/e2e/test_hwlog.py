"""hardware-errors on replay: bundles whose .hiddenq/kmsg.json holds records
written from the kernel's own printk formats (EDAC, machine checks, a KVM
entry failure, a guest's split lock), as the /dev/kmsg reader stores them,
replayed by `diagnose --replay`.  Synthesized because none of these can be
made on this machine: no EDAC or MCE in its kernel, no split-lock detection
under TCG, no KVM for entry failures (tests/vm/test_hwlog_vm.py makes a real
unknown NMI in a TCG guest instead).

- a split lock by a VM's vCPU thread is a warn attributed to that VM, the
  task named as the kernel named it;
- an uncorrected memory error during the watch is crit, and its next steps
  name the DIMM's tools; a corrected one from before the watch stays ok;
- a line a user wrote to /dev/kmsg (no "kernel" mark) is not counted, and
  execution-stalls does not take any of these for a stall.
"""
import json

from conftest import const, diagnose_json, finding, steal_bundle

VMS = {"vms": [{"pid": 4300, "vmm": "qemu", "name": "web1", "name_source": "cmdline",
                "threads": [{"tid": 4320, "kind": "vcpu", "vcpu": 0, "comm": "CPU 0/KVM"},
                            {"tid": 4321, "kind": "vcpu", "vcpu": 1, "comm": "CPU 1/KVM"}],
                "taps": [], "disks": []}], "root": True}


def rec(kind, msg, usec, history=False, kernel=True, prio=4):
    """A match as the reader stores it: its kind, and whether the kernel logged it (facility 0)."""
    return {"usec": usec, "prio": prio, "kind": kind, "history": history, "kernel": kernel, "msg": msg}


def bundle(root, matches):
    """4 s at 100 ms; host mode's vms.json in every slow sample, the kernel log's records in sample 12."""
    def extra(k):
        files = {}
        if k % 10 == 0:
            files[".hiddenq/vms.json"] = json.dumps(VMS)
            files[".hiddenq/kmsg.json"] = json.dumps({"available": True, "matches": []})
        if k == 12:
            files[".hiddenq/kmsg.json"] = json.dumps({"available": True, "matches": matches})
        return files
    steal_bundle(root, [const(0), const(0)], seconds=4, extra_files=extra)
    return root


def ev(f, metric):
    return [e for e in f["evidence"] if e["metric"] == metric]


def test_split_lock_of_a_vcpu_is_attributed_to_its_vm(hq, tmp_path):
    b = bundle(tmp_path / "b", [
        rec("split-lock", "x86/split lock detection: #AC: CPU 1/KVM/4321 took a split_lock trap at address: 0xfffff80104613be8",
            9_000_000),
        rec("edac-ce", "EDAC MC0: 2 CE on DIMM_A1 (page:0x1f offset:0x0 grain:8 syndrome:0x9b)", 5_000_000, history=True),
        # written by a user to /dev/kmsg: not the kernel's, not counted
        rec("edac-ue", "EDAC MC0: 1 UE memory read error on DIMM_A1 (page:0x0 offset:0x0 grain:32)", 9_100_000,
            kernel=False),
    ])
    r, doc = diagnose_json(hq, "--replay", b, "-q")
    f = finding(doc, "hardware-errors")
    assert f["severity"] == "warn", f["title"]
    assert f["title"].startswith("split-lock traps: 1 by VM web1 (CPU 1/KVM/4321) during the watch"), f["title"]
    d = ev(f, "hardware_log_during_watch")
    assert len(d) == 1 and d[0]["labels"]["vm"] == "web1" and d[0]["labels"]["task"] == "CPU 1/KVM/4321", d
    assert [e["labels"]["kind"] for e in ev(f, "hardware_log_before_watch")] == ["edac-ce"]
    assert not any(e["labels"].get("kind") == "edac-ue" for e in f["evidence"])
    assert any("split_lock_detect" in n for n in f["next"]), f["next"]
    assert finding(doc, "execution-stalls")["severity"] != "crit"
    # the text report says the same
    r = hq_text(hq, b)
    assert "split-lock traps: 1 by VM web1" in r


def hq_text(hq, b):
    from conftest import run
    r = run([hq, "diagnose", "--replay", str(b), "-q", "--color", "never"])
    assert r.returncode in (0, 1, 2), repr(r)
    return r.stdout


def test_uncorrected_errors_are_crit(hq, tmp_path):
    b = bundle(tmp_path / "b", [
        rec("edac-ue", "EDAC MC1: 1 UE memory read error on CPU_SrcID#1_Ha#0_Chan#2_DIMM#1 (channel:2 slot:1 page:0x1a2b3 "
            "offset:0x0 grain:32 - area:DRAM err_code:0000:009f socket:1 ha:0 channel_mask:4 rank:0)", 9_000_000),
        rec("mce", "mce: [Hardware Error]: CPU 5: Machine Check Exception: 5 Bank 7: be00000000800400", 9_000_100, prio=0),
        rec("kvm-entry-failed", "kvm_intel: set kvm_intel.dump_invalid_vmcs=1 to dump internal KVM state.", 9_000_200),
        rec("memory-failure", "Memory failure: 0x1a2b3: Sending SIGBUS to qemu-system-x86:4300 due to hardware memory corruption",
            9_000_300, prio=3),
    ])
    r, doc = diagnose_json(hq, "--replay", b, "-q")
    assert r.returncode == 2
    f = finding(doc, "hardware-errors")
    assert f["severity"] == "crit", f["title"]
    assert f["title"].startswith("uncorrected memory errors: 1 on MC1 CPU_SrcID#1_Ha#0_Chan#2_DIMM#1 during the watch"), \
        f["title"]
    kinds = {e["labels"]["kind"]: e["value"] for e in ev(f, "hardware_log_events")}
    assert kinds == {"edac-ue": 1, "mce": 1, "kvm-entry-failed": 1, "memory-failure": 1}, kinds
    # the poisoned page killed web1's QEMU: the record names it
    mf = [e for e in ev(f, "hardware_log_during_watch") if e["labels"]["kind"] == "memory-failure"][0]
    assert mf["labels"]["vm"] == "web1", mf
    assert any("ras-mc-ctl" in n for n in f["next"]), f["next"]


def test_only_old_corrected_errors_stay_ok(hq, tmp_path):
    b = bundle(tmp_path / "b", [
        rec("edac-ce", "EDAC MC0: 1 CE memory read error on DIMM_A1 (page:0x1 offset:0x0 grain:8 syndrome:0x0)", 2_000_000,
            history=True),
        rec("rt-throttling", "sched: RT throttling activated", 2_500_000, history=True),
    ])
    r, doc = diagnose_json(hq, "--replay", b, "-q")
    f = finding(doc, "hardware-errors")
    assert f["severity"] == "ok", f["title"]
    assert "logged before the watch" in f["title"], f["title"]
    assert len(ev(f, "hardware_log_before_watch")) == 2
