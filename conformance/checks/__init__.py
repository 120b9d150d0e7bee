"""Named semantic checks: what no JSON Schema can express, one module per family.

A check is a pure function of an ``Exchange`` to a list of ``Finding`` (its ``check`` field is
the check's stable name). ``COMMON_CHECKS`` run on every answer; ``CHECKS`` maps an endpoint name
of ``catalog.ENDPOINTS`` to the checks that run on every answer of that endpoint, so supporting a
new endpoint is one entry here. The suite, the cassette linter and the mutation score all go
through ``checks_for`` (usually via ``conformance.validation.validate_exchange``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from conformance.checks import (
    admin,
    batches,
    caching,
    citations,
    common,
    files,
    messages,
    models,
    thinking,
)
from conformance.exchange import Exchange, Finding

Check = Callable[[Exchange], list[Finding]]

COMMON_CHECKS: Sequence[Check] = (
    common.check_request_id,
    common.check_content_type,
    common.check_error_envelope,
    common.check_retry_after,
    common.check_ids,
)

_MESSAGE_CHECKS: tuple[Check, ...] = (
    messages.check_sse_grammar,
    messages.check_delta_types,
    messages.check_input_json,
    messages.check_stream_accumulates,
    messages.check_final_usage,
    messages.check_stop_fields,
    messages.check_max_tokens,
    messages.check_usage_arithmetic,
    thinking.check_thinking_signature,
    thinking.check_signature_delta,
    citations.check_citation_locations,
)

CHECKS: Mapping[str, Sequence[Check]] = MappingProxyType({
    "messages.create": _MESSAGE_CHECKS,
    "messages.count_tokens": (messages.check_usage_arithmetic,),
    "models.list": (models.check_page_cursors,),
    "models.retrieve": (models.check_model_alias,),
    "batches.create": (batches.check_batch,),
    "batches.retrieve": (batches.check_batch,),
    "batches.cancel": (batches.check_batch,),
    "batches.list": (batches.check_batch_page,),
    "batches.delete": (batches.check_batch_deleted,),
    "batches.results": (batches.check_results,),
    "files.upload": (files.check_file_metadata,),
    "files.retrieve": (files.check_file_metadata,),
    "files.list": (files.check_file_page,),
    "files.download": (files.check_download,),
    "files.delete": (files.check_file_deleted,),
    **admin.ADMIN_CHECKS,
    **{name: (models.check_page_cursors, *admin.ADMIN_CHECKS.get(name, ()))
       for name in admin.ID_PAGE_ENDPOINTS},
})

#: Every check name a Finding can carry, for reports and docs.
CHECK_NAMES: tuple[str, ...] = (
    common.REQUEST_ID, common.CONTENT_TYPE, common.ERROR_ENVELOPE, common.ID_PREFIX,
    common.RETRY_AFTER, messages.SSE_GRAMMAR, messages.DELTA_TYPES, messages.INPUT_JSON,
    messages.STREAM_ACCUMULATES, messages.FINAL_USAGE, messages.STOP_FIELDS,
    messages.MAX_TOKENS, messages.USAGE_ARITHMETIC, models.PAGE_CURSORS, models.PAGINATION_WALK,
    models.MODEL_ALIAS, batches.REQUEST_COUNTS, batches.BATCH_TIMELINE,
    batches.RESULTS_COVERAGE, batches.DELETED_SHAPE, files.FILE_METADATA, files.FILE_PAGE,
    files.FILE_CONTENT, *admin.CHECK_NAMES,
    # today's Messages features, asked for by the suite (not run on every answer)
    caching.CACHE_FIELDS, caching.CACHE_ACCOUNTING, thinking.THINKING_SIGNATURE,
    thinking.SIGNATURE_DELTA, citations.CITATION_LOCATION,
)


def checks_for(endpoint_name: str | None) -> tuple[Check, ...]:
    """The checks for an answer of ``endpoint_name`` (None: an endpoint the catalog lacks)."""
    specific = CHECKS.get(endpoint_name, ()) if endpoint_name is not None else ()
    return (*COMMON_CHECKS, *specific)


def run_checks(exchange: Exchange) -> list[Finding]:
    """Every check that applies to ``exchange``, by the endpoint its method and path match."""
    endpoint = exchange.endpoint
    out: list[Finding] = []
    for check in checks_for(endpoint.name if endpoint else None):
        out += check(exchange)
    return out


__all__ = [
    "CHECKS",
    "CHECK_NAMES",
    "COMMON_CHECKS",
    "Check",
    "checks_for",
    "run_checks",
]
