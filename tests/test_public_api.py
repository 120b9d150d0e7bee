"""The public surface: ``conformance.__all__``, loaded lazily, typed, and what README imports."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import conformance

REPO = Path(__file__).resolve().parent.parent


def test_all_is_the_export_table() -> None:
    assert set(conformance.__all__) == {"__version__", *conformance._EXPORTS}
    assert len(conformance.__all__) == len(set(conformance.__all__))


@pytest.mark.parametrize("name", sorted(conformance._EXPORTS))
def test_each_public_name_is_the_object_of_its_module(name: str) -> None:
    module = importlib.import_module(conformance._EXPORTS[name])
    assert getattr(conformance, name) is getattr(module, name)
    assert name in dir(conformance)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        conformance.Nope  # noqa: B018 - the attribute access is the test


def test_importing_the_package_loads_nothing_heavy() -> None:
    """``import conformance`` (the console script's --version) loads no HTTP or model stack."""
    code = (
        "import sys, conformance; "
        "print(sorted(m for m in ('httpx', 'pydantic', 'vcr', 'conformance.api') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", out


def test_star_import_gives_every_public_name() -> None:
    namespace: dict[str, object] = {}
    exec("from conformance import *", namespace)
    assert set(conformance.__all__) <= set(namespace)


def test_readme_imports_only_public_names() -> None:
    """Every name README's examples import from ``conformance.*`` is in ``conformance.__all__``."""
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    imported = {
        name.strip()
        for block in blocks
        for names in re.findall(r"^from conformance[\w.]* import ([\w, ]+)$", block, re.M)
        for name in names.split(",")
    }
    assert imported, "README shows no import"
    assert imported <= set(conformance.__all__), imported - set(conformance.__all__)


def test_the_package_is_marked_typed() -> None:
    """PEP 561: py.typed sits in the package (hatch ships every file of it in the wheel)."""
    assert (Path(conformance.__file__).parent / "py.typed").is_file()
