"""migration-convergence on replay, where the live view shows it: a bundle
whose host-mode vms.json carries QMP query-migrate answers (one a second, as
host/vmscan.c stores them) of a migration the guest outruns.  Synthesized
because the numbers must be exact here; tests/vm/test_migration_vm.py makes
a real one with two TCG QEMUs.

- `diagnose --replay` says crit, with the passes the answers counted;
- `top --replay --json` has the VM in its "VM migrating" table, with the
  pass, what is left and the two rates, and the VMs tab coloured crit;
- once the migration completes, the VM leaves that table and the finding is
  ok.
"""
import json

from conftest import const, diagnose_json, finding, run, steal_bundle

MIB = 1 << 20


def answer(k, status="active"):
    """The QMP answers at second k of a 16 MiB/s stream against a guest rewriting 30 MiB a pass."""
    if status == "completed":
        return {"status": "completed", "total-time": 9000, "downtime": 40,
                "ram": {"total": 160 * MIB, "remaining": 0, "transferred": 16 * MIB * k, "dirty-sync-count": 2 + k // 2}}
    return {"status": "active", "expected-downtime": 2000,
            "ram": {"total": 160 * MIB, "remaining": 30 * MIB, "transferred": 16 * MIB * k,
                    "dirty-sync-count": 2 + k // 2, "dirty-pages-rate": 4070, "page-size": 4096, "mbps": 134.2}}


def bundle(root, seconds, status_at):
    def vms(k):
        s = k // 10
        return {"vms": [{"pid": 100, "vmm": "qemu", "name": "web1", "name_source": "cmdline",
                         "threads": [{"tid": 101, "kind": "vcpu", "vcpu": 0, "comm": "CPU 0/KVM"}],
                         "taps": [], "disks": [],
                         "qmp": {"socket": "/run/web1-qmp.sock", "t_ns": (s + 1) * 1_000_000_000,
                                 "migrate": answer(s, status_at(s)),
                                 "migrate_parameters": {"downtime-limit": 300, "max-bandwidth": 16 * MIB},
                                 "migrate_capabilities": [{"capability": "auto-converge", "state": False}]}}],
                "root": True}

    steal_bundle(root, [const(0), const(0)], seconds=seconds,
                 extra_files=lambda k: {".hiddenq/vms.json": json.dumps(vms(k))} if k % 10 == 0 else {})
    return root


def top_last(hq, b, n):
    r = run([hq, "top", "--replay", str(b), "-n", str(n), "--json"])
    assert r.returncode == 0, repr(r)
    return json.loads(r.stdout.strip().splitlines()[-1])


def migrating(doc):
    t = [t for t in doc["panels"]["VMs"]["tables"] if t["caption"] == "VM migrating"][0]
    return t["rows"]


def test_a_migration_the_guest_outruns(hq, tmp_path):
    b = bundle(tmp_path / "b", 8, lambda s: "active")
    r, doc = diagnose_json(hq, "--replay", b, "-q")
    assert r.returncode == 2
    f = finding(doc, "migration-convergence")
    assert f["severity"] == "crit" and f["title"].startswith("web1: live migration not converging"), f["title"]
    t = top_last(hq, b, 80)
    rows = migrating(t)
    assert len(rows) == 1 and rows[0]["labels"]["vm"] == "web1", rows
    row = rows[0]
    assert row["migration_pass"] == 2 + 8 // 2 and row["migration_remaining"] == 30.0, row
    assert 15 <= row["migration_sent_rate"] <= 17 and 15 <= row["migration_dirty_rate"] <= 17, row
    assert t["panels"]["VMs"]["severity"] == "crit", t["panels"]["VMs"]
    assert any(x["id"] == "migration-convergence" and x["severity"] == "crit" for x in t["findings"])


def test_a_completed_migration_leaves_the_table(hq, tmp_path):
    b = bundle(tmp_path / "b", 6, lambda s: "active" if s < 3 else "completed")
    r, doc = diagnose_json(hq, "--replay", b, "-q")
    f = finding(doc, "migration-convergence")
    assert f["severity"] == "ok" and "completed" in f["title"], f["title"]
    t = top_last(hq, b, 60)
    assert migrating(t) == [], migrating(t)


def lv_stats(k):
    """virsh -r domjobinfo --rawstats at second k of the same migration (libvirt's parameter names)."""
    return ("Job type: 2\n\noperation: 5\n"
            f"time_elapsed: {1000 * k}\nmemory_total: {160 * MIB}\nmemory_processed: {16 * MIB * k}\n"
            f"memory_remaining: {30 * MIB}\nmemory_bps: {16 * MIB}\nmemory_dirty_rate: 4070\n"
            f"memory_page_size: 4096\nmemory_iteration: {2 + k // 2}\ndowntime: 2000\n")


def test_a_libvirt_vm_through_its_job_statistics(hq, tmp_path):
    """A libvirt VM (its monitor is libvirt's): the same migration read from libvirt's job
    statistics, as vms.json keeps virsh's text; no libvirtd runs here, so the text is written
    from libvirt's parameter names."""
    def vms(k):
        s = k // 10
        job = {"t_ns": (s + 1) * 1_000_000_000, "migrating": s > 0}
        if s > 0:
            job["stats"] = lv_stats(s)
        return {"vms": [{"pid": 100, "vmm": "qemu", "name": "db1", "name_source": "libvirt",
                         "threads": [{"tid": 101, "kind": "vcpu", "vcpu": 0, "comm": "CPU 0/KVM"}],
                         "taps": [], "disks": [], "libvirt_job": job}], "root": True}

    b = tmp_path / "b"
    steal_bundle(b, [const(0), const(0)], seconds=8,
                 extra_files=lambda k: {".hiddenq/vms.json": json.dumps(vms(k))} if k % 10 == 0 else {})
    r, doc = diagnose_json(hq, "--replay", b, "-q")
    f = finding(doc, "migration-convergence")
    assert f["severity"] == "crit" and f["title"].startswith("db1: live migration not converging"), f["title"]
    r = run([hq, "vms", "--replay", str(b), "--json"])
    assert r.returncode in (1, 2), repr(r)
    mig = [v for v in json.loads(r.stdout)["vms"] if v["name"] == "db1"][0]["migration"]
    assert mig["via"] == "libvirt" and mig["status"] == "active" and mig["passes"] == 2 + 8 // 2, mig
    # the text report: libvirt's statistics carry no downtime limit: unknown, not -1
    r = run([hq, "vms", "--replay", str(b)])
    assert "expected downtime 2000 ms, limit ? | throttle 0 % | via libvirt" in r.stdout, r.stdout
