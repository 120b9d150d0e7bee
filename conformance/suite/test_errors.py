"""Bad input: each gets the right status and error type, in the Anthropic error envelope."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import catalog
from conformance.api import Api

pytestmark = pytest.mark.feature("errors")

HELLO = [{"role": "user", "content": "Reply with exactly: hello"}]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param({"messages": HELLO}, 400, id="missing-max_tokens"),
        pytest.param({"messages": [], "max_tokens": 8}, 400, id="empty-messages"),
        pytest.param(
            {"messages": [{"role": "robot", "content": "hi"}], "max_tokens": 8}, 400, id="bad-role"
        ),
        pytest.param(
            {"messages": HELLO, "max_tokens": 8, "model": "claude-does-not-exist"},
            404,
            id="unknown-model",
        ),
    ],
)
def test_bad_request(api: Api, body: dict[str, Any], status: int) -> None:
    request = {"model": api.model, **body}
    api.expect_error(api.call("messages.create", request), status)


def test_missing_key(api: Api) -> None:
    ex = api.call(
        "messages.create",
        api.message_body("hi"),
        headers={"x-api-key": None, "authorization": None},
    )
    api.expect_error(ex, 401)


def test_wrong_key(api: Api) -> None:
    ex = api.call(
        "messages.create",
        api.message_body("hi"),
        headers={"x-api-key": "not-a-valid-key-conformance", "authorization": None},
    )
    api.expect_error(ex, 401)


def test_bad_anthropic_version(api: Api) -> None:
    ex = api.call(
        "messages.create", api.message_body("hi"), headers={"anthropic-version": "1999-01-01"}
    )
    api.expect_error(ex, 400)


@pytest.mark.api_versions("2026-10-21")
def test_sampling_parameters_rejected(api: Api) -> None:
    api.expect_error(api.create_message("hi", temperature=0.5), 400)


def test_invalid_json_body(api: Api) -> None:
    """A body that is not JSON is the client's error: 400 invalid_request_error in the
    Anthropic envelope (a proxy that fails to parse it must not answer 500 or its own shape)."""
    ex = api.client.request(
        "POST",
        catalog.endpoint("messages.create").url_path(),
        content=b'{"model": "' + api.model.encode() + b'", "max_tokens": 8,',
        headers={"content-type": "application/json"},
    )
    api.expect_error(ex, 400, "invalid_request_error")
