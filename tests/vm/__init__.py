"""QEMU (TCG) test VMs.  This file makes tests/vm a package, so its
conftest is imported as vm.conftest and does not take the module name
`conftest` that tests/e2e imports helpers from.  Import the harness as
tests.vm.harness (see docs/vm-harness.md)."""
