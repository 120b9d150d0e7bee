"""Checks of the models endpoints: a model id or alias resolves to that model.

The pages of ``models.list`` are judged by the generic ``checks.pagination`` checks.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from conformance import catalog
from conformance.checks._registry import check, on_demand, success
from conformance.checks.common import describe_type, finding
from conformance.exchange import Exchange, Finding

MODEL_ALIAS = "model-alias"


# --- model-alias ----------------------------------------------------------------------------------


@on_demand(MODEL_ALIAS)
def check_alias_resolution(
    requested: str, model: Any, *, pointer: str = "", request_id: str | None = None
) -> list[Finding]:
    """``GET /v1/models/{requested}`` answered with the model ``requested`` names.

    An id answers with itself; an alias answers with the model the catalog knows for it, or
    with a dated snapshot of it (``claude-haiku-4-5`` -> ``claude-haiku-4-5-20251001``), since
    an alias may move on to a snapshot newer than this suite.
    """
    rule = "a model id or alias resolves to that model"
    if not isinstance(model, dict):
        return [
            finding(
                MODEL_ALIAS,
                f"expected a model object for {requested!r}, got {describe_type(model)}",
                pointer=pointer,
                rule=rule,
                value=model,
                request_id=request_id,
            )
        ]
    got = model.get("id")
    known = catalog.find_model(requested)
    accepted = {requested} | ({known.id} if known else set())
    if isinstance(got, str) and (got in accepted or got.startswith(requested + "-")):
        return []
    want = " or ".join(repr(a) for a in sorted(accepted))
    return [
        finding(
            MODEL_ALIAS,
            f"asked for model {requested!r}, got id {got!r}; expected {want}"
            f" or a dated snapshot {requested + '-YYYYMMDD'!r}",
            pointer=f"{pointer}/id",
            rule=rule,
            value=got,
            request_id=request_id,
        )
    ]


@check(MODEL_ALIAS, endpoints="models.retrieve", applies=success)
def check_model_alias(exchange: Exchange) -> list[Finding]:
    """``check_alias_resolution`` with the model id taken from the request path."""
    requested = unquote(urlsplit(exchange.path).path.rstrip("/").rsplit("/", 1)[-1])
    return check_alias_resolution(requested, exchange.json, request_id=exchange.request_id)
