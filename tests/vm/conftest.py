"""pytest glue for the QEMU (TCG) test VMs: registers the `vm` marker,
puts the repository root on sys.path so `tests.vm.harness` imports, and
offers the `vm_factory` fixture.  The skip-or-fail policy lives in
harness.py (harness.unavailable), so other test directories share it."""

import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from tests.vm import harness  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "vm: boots QEMU (TCG) guests with tests/vm/harness.py; skipped when "
        "QEMU or the guest kernel is missing, unless HIDDENQ_REQUIRE_VM=1")


@pytest.fixture
def vm_factory(request):
    """vm_factory(spec) boots a VM that is stopped when the test ends."""
    return lambda spec: harness.boot(request, spec)
