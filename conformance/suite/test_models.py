"""GET /v1/models (ID-cursor pagination) and GET /v1/models/{id} (aliases resolve)."""

from __future__ import annotations

import pytest

from conformance.api import Api
from conformance.checks.models import check_alias_resolution
from conformance.checks.pagination import check_pagination_walk
from conformance.exchange import raise_for_findings

pytestmark = pytest.mark.feature("models")


def test_models_list(api: Api) -> None:
    page = api.expect(api.call("models.list"))
    assert page["data"], "the API serves at least one model"
    assert all(m["type"] == "model" for m in page["data"])


def test_models_pagination(api: Api) -> None:
    pages = api.walk("models.list", limit=2)
    raise_for_findings(check_pagination_walk(pages), "walking /v1/models with limit=2")
    first = pages[0].json
    assert len(first["data"]) <= 2
    if len(pages) > 1:
        second = pages[1].json
        back = api.expect(
            api.call("models.list", params={"limit": 2, "before_id": second["first_id"]})
        )
        assert [m["id"] for m in back["data"]] == [m["id"] for m in first["data"]], (
            "before_id of the second page's first_id gives the first page back"
        )


def test_model_get(api: Api) -> None:
    listed = api.expect(api.call("models.list", params={"limit": 1}))["data"][0]
    got = api.expect(api.call("models.retrieve", model_id=listed["id"]))
    assert got["id"] == listed["id"]
    assert got["display_name"] == listed["display_name"]


def test_model_alias_resolves(api: Api) -> None:
    ex = api.call("models.retrieve", model_id=api.model)
    raise_for_findings(check_alias_resolution(api.model, api.expect(ex)), ex.describe())


@pytest.mark.feature("errors")
def test_unknown_model_not_found(api: Api) -> None:
    api.expect_error(api.call("models.retrieve", model_id="claude-does-not-exist"), 404)
