"""The environment under test is the one constraints.txt pins (what Binder and the Pages workflow
install), and requirements.txt's direct pins agree with it."""
from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)")


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        m = PIN.match(line.strip())
        if m:
            pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return pins


LOCK = _pins(ROOT / "constraints.txt")
DIRECT = _pins(ROOT / "requirements.txt")


def _local_free(version: str) -> str:
    return version.split("+", 1)[0]  # 2.13.0+cpu is the CPU build of 2.13.0


def test_the_lock_pins_every_direct_requirement_at_the_same_version():
    assert DIRECT, "requirements.txt pins nothing"
    assert {k: LOCK.get(k) for k in DIRECT} == DIRECT


@pytest.mark.parametrize("name", sorted(LOCK))
def test_installed_version_is_the_locked_one(name):
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        pytest.fail(f"{name}=={LOCK[name]} is locked but not installed: run `make` (or `make lock` to re-pin)")
    assert _local_free(installed) == LOCK[name], f"{name}: installed {installed}, locked {LOCK[name]}"


def test_every_installed_package_is_locked():
    installed = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in metadata.distributions()}
    unlocked = sorted(installed - set(LOCK) - {"reglab", "pip", "setuptools", "wheel"})
    assert not unlocked, f"installed but not in constraints.txt (run `make lock`): {unlocked}"
