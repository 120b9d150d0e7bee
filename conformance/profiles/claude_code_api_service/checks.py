"""The semantic checks of the Claude Code API Service profile: what its document promises and
no schema can state (arithmetic, echoes, routing rules, period validation, known deviations).

Registered in the core registry (``conformance.checks``) under names starting ``ccas-``, with
``endpoints=()`` (``PROFILE_ONLY``: no row of ``catalog.ENDPOINTS``, so the core validation never
runs them on an Anthropic answer) and a guard that matches the profile's own endpoint table. The
profile's client runs them (``conformance.profiles.profile_checks``); which of them are known
deviations, and how severe, is the profile's policy (``Profile.deviations``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard
from urllib.parse import parse_qs, urlsplit

from conformance.checks import Guard, check, declare, errors, on_demand, success
from conformance.exchange import Exchange, Finding, shorten
from conformance.profiles import PROFILE_ONLY, answers_of
from conformance.profiles.claude_code_api_service import spec


def on(*names: str) -> Guard:
    """An answer of one of the profile's endpoints ``names`` (method and path match)."""
    return answers_of("ccas", spec.ENDPOINTS, *names)


ANY = on(*(e.name for e in spec.ENDPOINTS))
_JSON = Guard("json_object", lambda e: isinstance(e.json, dict))


def _f(name: str, message: str, pointer: str, rule: str, value: Any = None) -> Finding:
    return Finding(
        name, message, pointer=pointer, rule=rule, value="" if value is None else shorten(value)
    )


def _request(exchange: Exchange) -> Mapping[str, Any]:
    body = exchange.request_json
    return body if isinstance(body, dict) else {}


def _query(exchange: Exchange) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(exchange.path).query).items()}


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- errors ---------------------------------------------------------------------------------------


@check("ccas-detail-list", endpoints=PROFILE_ONLY, applies=ANY & errors & _JSON)
def check_detail_list(exchange: Exchange) -> list[Finding]:
    """An error's detail is a string (FastAPI's 422 answers a list of pydantic errors)."""
    detail = exchange.json.get("detail")
    if isinstance(detail, list):
        return [
            _f(
                "ccas-detail-list",
                f"HTTP {exchange.status}: detail is FastAPI's list of "
                "validation errors, not the documented error description string",
                "/detail",
                'the document\'s errors are {"detail": "description"}',
                detail,
            )
        ]
    return []


# --- chat completions -----------------------------------------------------------------------------


def _usage_findings(usage: Any, where: str) -> list[Finding]:
    if not isinstance(usage, dict):
        return []
    i, o, t = usage.get("input_tokens"), usage.get("output_tokens"), usage.get("total_tokens")
    if _is_int(i) and _is_int(o) and _is_int(t) and t != i + o:
        return [
            _f(
                "ccas-usage-total",
                f"total_tokens {t} is not input_tokens {i} + output_tokens {o}",
                f"{where}/total_tokens",
                "total_tokens = input_tokens + output_tokens",
                usage,
            )
        ]
    return []


@check("ccas-usage-total", endpoints=PROFILE_ONLY, applies=on("chat", "batch") & success & _JSON)
def check_usage_total(exchange: Exchange) -> list[Finding]:
    """usage.total_tokens is input_tokens + output_tokens (a chat answer, every batch result)."""
    body = exchange.json
    if on("chat")(exchange):
        return _usage_findings(body.get("usage"), "/usage")
    out: list[Finding] = []
    for i, item in enumerate(body.get("results") or []):
        if isinstance(item, dict):
            out += _usage_findings(item.get("usage"), f"/results/{i}/usage")
    return out


def _cost_findings(model: str, usage: Any, cost: Any, where: str) -> list[Finding]:
    if not (isinstance(usage, dict) and _is_number(cost) and model in spec.PRICES):
        return []
    i, o = usage.get("input_tokens"), usage.get("output_tokens")
    if not (_is_int(i) and _is_int(o)):
        return []
    expected = spec.cost_of(model, i, o)
    if spec.cost_matches(cost, expected):
        return []
    price_in, price_out = spec.PRICES[model]
    return [
        _f(
            "ccas-cost",
            f"cost {cost!r} is not {expected!r}: {i} input x ${price_in}/MTok + "
            f"{o} output x ${price_out}/MTok ({model})",
            where,
            "cost = tokens x the document's price table (January 2026), unrounded",
            cost,
        )
    ]


@check("ccas-cost", endpoints=PROFILE_ONLY, applies=on("chat") & success & _JSON)
def check_chat_cost(exchange: Exchange) -> list[Finding]:
    """A chat answer's cost is its tokens priced by the document's table for its model."""
    body = exchange.json
    return _cost_findings(str(body.get("model")), body.get("usage"), body.get("cost"), "/cost")


@check("ccas-model", endpoints=PROFILE_ONLY, applies=on("chat") & success & _JSON)
def check_chat_model(exchange: Exchange) -> list[Finding]:
    """The answer names one of haiku, sonnet, opus: the model asked for, when one was."""
    model, asked = exchange.json.get("model"), _request(exchange).get("model")
    if asked is not None and asked not in spec.MODELS:
        return []  # an unknown model answered at all: ccas-unknown-model-accepted says so
    if model not in spec.MODELS:
        return [
            _f(
                "ccas-model",
                f"model {model!r} is not one of {', '.join(spec.MODELS)} (its "
                "cost cannot be checked)",
                "/model",
                "model: haiku | sonnet | opus",
                model,
            )
        ]
    if asked in spec.MODELS and model != asked:
        return [
            _f(
                "ccas-model",
                f"asked for {asked!r}, answered by {model!r}",
                "/model",
                "the model given in the request is the model used",
                model,
            )
        ]
    return []


@check("ccas-project", endpoints=PROFILE_ONLY, applies=on("chat") & success & _JSON)
def check_chat_project(exchange: Exchange) -> list[Finding]:
    """project_id echoes the request's ("default" when it gave none)."""
    asked = _request(exchange).get("project_id") or spec.DEFAULT_PROJECT
    got = exchange.json.get("project_id")
    if got != asked:
        return [
            _f(
                "ccas-project",
                f"project_id {got!r}, the request said {asked!r}",
                "/project_id",
                'project_id defaults to "default"',
                got,
            )
        ]
    return []


@check("ccas-unknown-model-accepted", endpoints=PROFILE_ONLY, applies=on("chat", "batch") & success)
def check_unknown_model(exchange: Exchange) -> list[Finding]:
    """A model other than haiku, sonnet, opus is refused, not answered."""
    asked = _request(exchange).get("model")
    if asked is not None and asked not in spec.MODELS:
        return [
            _f(
                "ccas-unknown-model-accepted",
                f"model {asked!r} (not haiku, sonnet or "
                f"opus) was answered with HTTP {exchange.status}",
                "/model",
                "model: optional, haiku | sonnet | opus",
                asked,
            )
        ]
    return []


@check("ccas-empty-messages-accepted", endpoints=PROFILE_ONLY, applies=on("chat") & success)
def check_empty_messages(exchange: Exchange) -> list[Finding]:
    """An empty messages list holds no prompt: it is refused, not answered."""
    if _request(exchange).get("messages") == []:
        return [
            _f(
                "ccas-empty-messages-accepted",
                f"an empty messages list was answered with HTTP {exchange.status}",
                "/messages",
                "messages carries the prompt (at least one message)",
            )
        ]
    return []


# --- batch ----------------------------------------------------------------------------------------


@check("ccas-batch-totals", endpoints=PROFILE_ONLY, applies=on("batch") & success & _JSON)
def check_batch_totals(exchange: Exchange) -> list[Finding]:
    """total = completed + failed = the results; total_cost and total_tokens sum the results."""
    body = exchange.json
    results = [r for r in body.get("results") or [] if isinstance(r, dict)]
    total, done, failed = body.get("total"), body.get("completed"), body.get("failed")
    out: list[Finding] = []
    counted = {s: sum(r.get("status") == s for r in results) for s in ("completed", "failed")}
    if _is_int(total) and _is_int(done) and _is_int(failed) and total != done + failed:
        out.append(
            _f(
                "ccas-batch-totals",
                f"total {total} is not completed {done} + failed {failed}",
                "/total",
                "total = completed + failed",
                body,
            )
        )
    if _is_int(total) and total != len(results):
        out.append(
            _f(
                "ccas-batch-totals",
                f"total {total}, but {len(results)} results",
                "/total",
                "total counts the results",
            )
        )
    prompts = _request(exchange).get("prompts")
    if _is_int(total) and isinstance(prompts, list) and total != len(prompts):
        out.append(
            _f(
                "ccas-batch-totals",
                f"total {total}, but {len(prompts)} prompts were sent",
                "/total",
                "one result per prompt",
            )
        )
    for key, status in (("completed", "completed"), ("failed", "failed")):
        if _is_int(body.get(key)) and body[key] != counted[status]:
            out.append(
                _f(
                    "ccas-batch-totals",
                    f"{key} {body[key]}, but {counted[status]} results have status {status!r}",
                    f"/{key}",
                    f"{key} counts the results with that status",
                )
            )
    tokens = sum(
        r["usage"]["total_tokens"]
        for r in results
        if isinstance(r.get("usage"), dict) and _is_int(r["usage"].get("total_tokens"))
    )
    if _is_int(body.get("total_tokens")) and body["total_tokens"] != tokens:
        out.append(
            _f(
                "ccas-batch-totals",
                f"total_tokens {body['total_tokens']} is not the "
                f"sum of the results' total_tokens ({tokens})",
                "/total_tokens",
                "total_tokens = sum of results[].usage.total_tokens",
            )
        )
    cost = sum(r["cost"] for r in results if _is_number(r.get("cost")))
    if _is_number(body.get("total_cost")) and not spec.cost_matches(body["total_cost"], cost):
        out.append(
            _f(
                "ccas-batch-totals",
                f"total_cost {body['total_cost']!r} is not the sum "
                f"of the results' costs ({cost!r})",
                "/total_cost",
                "total_cost = sum of results[].cost",
            )
        )
    return out


@check("ccas-batch-results", endpoints=PROFILE_ONLY, applies=on("batch") & success & _JSON)
def check_batch_results(exchange: Exchange) -> list[Finding]:
    """One result per prompt, in order, with its id and prompt; a completed one is priced."""
    results = exchange.json.get("results")
    prompts = _request(exchange).get("prompts")
    if not isinstance(results, list) or not isinstance(prompts, list):
        return []
    out: list[Finding] = []
    # Assumed: results come in the order of the prompts (the document's example does).
    for i, (sent, got) in enumerate(zip(prompts, results, strict=False)):
        if not (isinstance(sent, dict) and isinstance(got, dict)):
            continue
        for key in ("id", "prompt"):
            if got.get(key) != sent.get(key):
                out.append(
                    _f(
                        "ccas-batch-results",
                        f"result {i} has {key} {got.get(key)!r}, prompt {i} was {sent.get(key)!r}",
                        f"/results/{i}/{key}",
                        "results echo the prompts' id and prompt, in order",
                    )
                )
        model = _request(exchange).get("model")
        if got.get("status") == "completed" and model in spec.PRICES:
            out += [
                dataclass_rename(f, "ccas-batch-results")
                for f in _cost_findings(
                    str(model), got.get("usage"), got.get("cost"), f"/results/{i}/cost"
                )
            ]
    return out


def dataclass_rename(finding: Finding, name: str) -> Finding:
    import dataclasses

    return dataclasses.replace(finding, check=name)


# --- usage and budgets ----------------------------------------------------------------------------

#: Reported by ``ccas-remaining`` (one look at the budget numbers), under names of their own
#: because they are known deviations with a severity of their own (``Profile.deviations``).
UNBUDGETED_NULL = declare(
    "ccas-unbudgeted-null", "limit and remaining are integers (a project without a budget: null)"
)
BUDGET_OVERRUN = declare(
    "ccas-budget-overrun", "no project ends above its budget (remaining never below 0)"
)


def _budget_findings(status: Mapping[str, Any], where: str) -> list[Finding]:
    limit, remaining = status.get("limit"), status.get("remaining")
    total = status.get("total_tokens")
    out: list[Finding] = []
    if limit is None and remaining is None:
        out.append(
            _f(
                UNBUDGETED_NULL,
                "limit and remaining are null (a project without a budget)",
                f"{where}/limit",
                "the document shows limit and remaining as integers",
            )
        )
        return out
    if (limit is None) != (remaining is None):
        out.append(
            _f(
                "ccas-remaining",
                f"limit {limit!r} but remaining {remaining!r}",
                f"{where}/remaining",
                "remaining is null exactly when limit is",
            )
        )
        return out
    if _is_int(limit) and _is_int(remaining) and _is_int(total):
        if remaining != limit - total:
            out.append(
                _f(
                    "ccas-remaining",
                    f"remaining {remaining} is not limit {limit} - "
                    f"total_tokens {total} = {limit - total}",
                    f"{where}/remaining",
                    "remaining = limit - total_tokens",
                )
            )
        elif remaining < 0:
            out.append(
                _f(
                    BUDGET_OVERRUN,
                    f"the project used {total} tokens of a "
                    f"{limit}-token budget: a call was let through that exceeded it",
                    f"{where}/remaining",
                    "a call that would exceed the budget gets 429 before any work",
                )
            )
    return out


@check("ccas-remaining", endpoints=PROFILE_ONLY, applies=on("usage", "route") & success & _JSON)
def check_remaining(exchange: Exchange) -> list[Finding]:
    """remaining = limit - total_tokens (usage answers and route budget_status)."""
    body = exchange.json
    status = body.get("budget_status") if on("route")(exchange) else body
    return (
        _budget_findings(status, "/budget_status" if on("route")(exchange) else "")
        if isinstance(status, dict)
        else []
    )


@check("ccas-usage-sums", endpoints=PROFILE_ONLY, applies=on("usage") & success & _JSON)
def check_usage_sums(exchange: Exchange) -> list[Finding]:
    """total_tokens and total_cost are the sums of by_model; by_model names known models."""
    body = exchange.json
    by_model = body.get("by_model")
    if not isinstance(by_model, dict):
        return []
    out: list[Finding] = []
    for name in by_model:
        if name not in spec.MODELS:
            out.append(
                _f(
                    "ccas-usage-sums",
                    f"by_model has {name!r}, not one of {', '.join(spec.MODELS)}",
                    f"/by_model/{name}",
                    "by_model is keyed by haiku | sonnet | opus",
                )
            )
    rows = [r for r in by_model.values() if isinstance(r, dict)]
    tokens = sum(r["tokens"] for r in rows if _is_int(r.get("tokens")))
    cost = sum(r["cost"] for r in rows if _is_number(r.get("cost")))
    if _is_int(body.get("total_tokens")) and body["total_tokens"] != tokens:
        out.append(
            _f(
                "ccas-usage-sums",
                f"total_tokens {body['total_tokens']} is not the sum of by_model tokens ({tokens})",
                "/total_tokens",
                "total_tokens = sum of by_model[].tokens",
            )
        )
    if _is_number(body.get("total_cost")) and not spec.cost_matches(body["total_cost"], cost):
        out.append(
            _f(
                "ccas-usage-sums",
                f"total_cost {body['total_cost']!r} is not the sum of by_model costs ({cost!r})",
                "/total_cost",
                "total_cost = sum of by_model[].cost",
            )
        )
    return out


@check("ccas-period", endpoints=PROFILE_ONLY, applies=on("usage"))
def check_period(exchange: Exchange) -> list[Finding]:
    """period is month, week or day (default month): echoed on 200; anything else is a 400."""
    asked = _query(exchange).get("period")
    valid = asked is None or asked in spec.PERIODS
    if not valid and exchange.status != 400:
        return [
            _f(
                "ccas-period",
                f"period {asked!r} answered HTTP {exchange.status}, not 400",
                "/period",
                "period: month | week | day, else 400 Invalid period",
                asked,
            )
        ]
    if valid and exchange.status < 400 and isinstance(exchange.json, dict):
        want = asked or spec.DEFAULT_PERIOD
        got = exchange.json.get("period")
        if got != want:
            return [
                _f(
                    "ccas-period",
                    f"period {got!r}, the request asked for {want!r}",
                    "/period",
                    "the answer's period is the one asked (default month)",
                    got,
                )
            ]
    return []


@on_demand("ccas-budget-before-work")
def budget_untouched(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Finding]:
    """A 429 (budget exceeded) comes before any work: the project's usage did not move."""
    keys = ("total_tokens", "total_cost")
    if all(before.get(k) == after.get(k) for k in keys):
        return []
    return [
        _f(
            "ccas-budget-before-work",
            f"the refused call still counted: usage went from "
            f"{[before.get(k) for k in keys]} to {[after.get(k) for k in keys]}",
            "/total_tokens",
            "429 when the budget would be exceeded, before any work",
        )
    ]


# --- routing --------------------------------------------------------------------------------------


@check("ccas-route-rules", endpoints=PROFILE_ONLY, applies=on("route") & success & _JSON)
def check_route_rules(exchange: Exchange) -> list[Finding]:
    """recommended_model follows the document's five routing rules, in their order."""
    sent = _request(exchange)
    status = exchange.json.get("budget_status")
    prompt, context = sent.get("prompt"), sent.get("context_size") or 0
    if not isinstance(prompt, str) or not _is_int(context) or not isinstance(status, dict):
        return []
    remaining = status.get("remaining")
    expected = spec.route(prompt, context, remaining if _is_int(remaining) else None)
    got = exchange.json.get("recommended_model")
    if got == expected.model:
        return []
    return [
        _f(
            "ccas-route-rules",
            f"recommended {got!r}, rule {expected.rule} of the document "
            f"gives {expected.model!r} (prompt of {len(prompt)} chars, context_size "
            f"{context}, remaining {remaining!r})",
            "/recommended_model",
            f"routing rule {expected.rule}: {RULES[expected.rule]}",
            got,
        )
    ]


RULES: Mapping[int, str] = {
    1: f"low budget (< {spec.LOW_BUDGET_TOKENS} tokens left) forces haiku",
    2: f"large context (> {spec.LARGE_CONTEXT_TOKENS} tokens) requires opus",
    3: f"simple prompts (< {spec.SHORT_PROMPT_CHARS} chars with list, format, count) -> haiku",
    4: "complex prompts (analyze, architect, debug) -> sonnet",
    5: "sonnet by default",
}
