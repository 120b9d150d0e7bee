"""Adding an endpoint is four hand-written files, as README's recipe says, and a half-done
addition is one clear error naming the endpoint and the file to edit.

In a temporary copy of the package and its schemas, a toy ``POST /v1/models/{model_id}/touch``
gets exactly: a schema file, a row in ``catalog.ENDPOINTS``, a route in the reference server's
models module, and a suite module. The suite module then runs green against the embedded
reference server, in a subprocess that imports the copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import catalog
from conformance.reference import app as reference_app
from conformance.reference.routing import Plugin, RouteSpec, RouteTableError, check_routes

REPO = Path(__file__).resolve().parent.parent
NAME = "models.touch"

# 1. the schema of the answer
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://anthropic-conformance.invalid/schemas/model_touch.json",
    "title": "ModelTouch",
    "type": "object",
    "required": ["type", "id", "touched"],
    "properties": {
        "type": {"const": "model_touch"},
        "id": {"type": "string", "minLength": 1},
        "touched": {"const": True},
    },
}
# 2. the catalog row (inserted after models.retrieve)
ROW = (
    '    Endpoint("models.touch", "POST", "/v1/models/{model_id}/touch", "models",\n'
    '             "model_touch.json"),\n'
)
# 3. the reference server's route, in the module of its family
ROUTE = """

async def touch_model(request: Request, ctx: RequestContext) -> Answer:
    return JsonAnswer({"type": "model_touch", "id": str(request.path_params["model_id"]),
                       "touched": True})


ROUTES.append(RouteSpec("models.touch", touch_model))
"""
# 4. the suite module
SUITE_MODULE = '''"""POST /v1/models/{model_id}/touch (a toy endpoint of the models family)."""

import pytest

from conformance.api import Api

pytestmark = pytest.mark.feature("models")


def test_model_touch(api: Api) -> None:
    touched = api.expect(api.call("models.touch", model_id="claude-haiku-4-5"))
    assert touched["touched"] is True
'''


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "copy"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "conformance", root / "conformance", ignore=ignore)
    shutil.copytree(REPO / "schemas", root / "schemas", ignore=ignore)
    return root


def _add(root: Path, *, row: bool = True, route: bool = True) -> None:
    (root / "schemas" / "model_touch.json").write_text(json.dumps(SCHEMA, indent=2))
    if row:
        catalog_py = root / "conformance" / "catalog.py"
        text = catalog_py.read_text()
        anchor = next(
            line
            for line in text.splitlines(keepends=True)
            if line.lstrip().startswith('Endpoint("models.retrieve"')
        )
        catalog_py.write_text(text.replace(anchor, anchor + ROW, 1))
    if route:
        models_py = root / "conformance" / "reference" / "models.py"
        models_py.write_text(models_py.read_text() + ROUTE)
    (root / "conformance" / "suite" / "test_model_touch.py").write_text(SUITE_MODULE)


def _run(root: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["PYTHONPATH"] = str(root)
    code = (
        "import sys, pytest; from conformance.runner import suite_args; "
        "sys.exit(pytest.main(suite_args(['-q', '-p', 'no:cacheprovider', '-p', "
        "'no:randomly', '--anthropic-report-dir=none'], modules=['test_model_touch'])))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


def test_four_files_add_an_endpoint_and_its_suite_runs_green(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    _add(root)
    result = _run(root)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert "1 passed" in out, out[-3000:]
    # the module exists only in the copy: "1 passed" means the copy was the package imported
    assert not (REPO / "conformance" / "suite" / "test_model_touch.py").exists()


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        (
            "row",
            "conformance/reference/models.py routes 'models.touch', which "
            "conformance/catalog.py lacks: add its row to ENDPOINTS there",
        ),
        (
            "route",
            "catalog endpoint 'models.touch' (POST /v1/models/{model_id}/touch) has no route in "
            "the reference server: add RouteSpec('models.touch', handler) to ROUTES in "
            "conformance/reference/models.py",
        ),
    ],
)
def test_a_missing_row_or_route_names_the_endpoint_and_the_file(
    tmp_path: Path, missing: str, expected: str
) -> None:
    root = _copy(tmp_path)
    _add(root, row=missing != "row", route=missing != "route")
    result = _run(root)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert expected in out, out[-3000:]
    assert "KeyError: 'models.touch'" not in out


# --- the same errors, in process ------------------------------------------------------------------


def test_an_unknown_endpoint_name_says_which_row_to_add() -> None:
    with pytest.raises(catalog.UnknownEndpoint) as info:
        catalog.endpoint("batches.touch")
    message = str(info.value)
    assert message.startswith("unknown endpoint 'batches.touch'")
    assert "add its row to ENDPOINTS in conformance/catalog.py" in message
    assert isinstance(info.value, KeyError)  # callers catching KeyError still do


def test_the_shipped_routes_match_the_catalog() -> None:
    check_routes(reference_app.PLUGINS)  # raises on any mismatch


def test_a_route_of_a_new_family_without_module_says_where_to_put_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    toy = catalog.Endpoint(
        "toys.retrieve",
        "GET",
        "/v1/toys/{toy_id}",
        "toys",  # type: ignore[arg-type]
        "toy.json",
    )
    monkeypatch.setattr(catalog, "ENDPOINTS", (*catalog.ENDPOINTS, toy))
    with pytest.raises(
        RouteTableError,
        match=r"'toys\.retrieve' \(GET /v1/toys/\{toy_id\}\) has "
        r"no route .* in a new module conformance/reference/toys\.py, added to "
        r"PLUGINS in conformance/reference/app\.py",
    ):
        reference_app.create_app()


def test_a_route_twice_is_named() -> None:
    async def again(request: object, ctx: object) -> None:  # never called
        raise AssertionError

    plugins = (*reference_app.PLUGINS, Plugin("extra", (RouteSpec("models.list", again),)))  # type: ignore[arg-type]
    with pytest.raises(
        RouteTableError,
        match=r"'models\.list' is routed twice "
        r"\(conformance/reference/models\.py, test_add_endpoint\.py\)",
    ):
        check_routes(plugins)
