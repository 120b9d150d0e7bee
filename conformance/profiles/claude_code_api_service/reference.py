"""The reference implementation of the Claude Code API Service: faithful to its document,
deterministic (a fixed clock, answers and token counts derived from the prompt), stateful (the
usage of each project, per model and day) and seeded with the projects the suite's budget and
boundary tests need. ``create_app(mutants=(...))`` plants named bugs (``MUTANTS``), so the
project can prove the profile's tests catch them.

Where the document leaves behaviour open, this implementation picks the plain reading and the
profile's checks assume the same (README "Profile: claude-code-api-service").
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from conformance.profiles.claude_code_api_service import spec
from conformance.profiles.claude_code_api_service.mutants import MUTANTS as MUTANTS

VERSION = "0.1.0"
#: The reference clock: usage periods are computed from it, so answers never depend on the day.
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
#: The budget of a project nobody configured (the document's example limit).
DEFAULT_LIMIT = 100_000
#: A prompt containing this fails (500 ``Task failed``; a failed batch item): a test-only
#: trigger only the reference implementation honours, like the core's forced status.
FAIL_MARKER = "conformance:fail"

#: Seeded projects: name -> (monthly limit, tokens already used this month).
SEEDED_BUDGETS: Mapping[str, tuple[int | None, int]] = {
    "budget-exhausted": (1_000, 1_000),  # remaining 0: every call would exceed it
    "budget-tight": (1_000, 970),  # remaining 30: less than any answer costs
    "budget-999": (100_000, 99_001),  # remaining 999: "low budget" (< 1000)
    "budget-1000": (100_000, 99_000),  # remaining 1000: not low
    "unlimited": (None, 0),  # monthly_limit=None, as the document's BudgetManager allows
}
#: A project with usage in each period: (days before NOW, model, input, output).
HISTORY_PROJECT = "history"
HISTORY: tuple[tuple[int, str, int, int], ...] = (
    (0, "haiku", 100, 200),
    (3, "sonnet", 300, 400),
    (10, "opus", 500, 600),
    (40, "haiku", 700, 800),
)


def tokens_of(text: str) -> int:
    """The reference tokenizer: a token per 4 characters, at least one."""
    return max(1, math.ceil(len(text) / 4))


@dataclass
class Entry:
    project: str
    model: str
    input_tokens: int
    output_tokens: int
    at: datetime

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass
class State:
    mutants: frozenset[str]
    budgets: dict[str, int | None] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    ids: int = 0

    def __post_init__(self) -> None:
        for project, (limit, used) in SEEDED_BUDGETS.items():
            self.budgets[project] = limit
            if used:
                out = used // 2
                self.entries.append(Entry(project, "haiku", used - out, out, NOW))
        for days, model, i, o in HISTORY:
            self.entries.append(Entry(HISTORY_PROJECT, model, i, o, NOW - timedelta(days=days)))

    def next_id(self) -> str:
        self.ids += 1  # deterministic, UUID-shaped (the document leaves the format open)
        return str(uuid.UUID(int=self.ids, version=4))

    def limit(self, project: str) -> int | None:
        return self.budgets.get(project, DEFAULT_LIMIT)

    def cost(self, model: str, i: int, o: int) -> float:
        priced = "haiku" if "cost-haiku-price" in self.mutants else model
        cost = spec.cost_of(priced if priced in spec.PRICES else "sonnet", i, o)
        return round(cost, 4) if "cost-rounded" in self.mutants else cost

    def in_period(self, entry: Entry, period: str) -> bool:
        if period == "day":
            return entry.at.date() == NOW.date()
        if period == "week":
            return NOW - entry.at < timedelta(days=7)
        return (entry.at.year, entry.at.month) == (NOW.year, NOW.month)

    def usage(self, project: str, period: str = "month") -> dict[str, Any]:
        rows: dict[str, dict[str, Any]] = {}
        for e in self.entries:
            if e.project == project and self.in_period(e, period):
                row = rows.setdefault(e.model, {"tokens": 0, "cost": 0.0})
                row["tokens"] += e.tokens
                row["cost"] += self.cost(e.model, e.input_tokens, e.output_tokens)
        total = sum(r["tokens"] for r in rows.values())
        if "usage-sum-stale" in self.mutants and len(rows) > 1:
            total -= list(rows.values())[-1]["tokens"]
        limit = self.limit(project)
        remaining = None if limit is None else limit - total
        if "remaining-is-limit" in self.mutants:
            remaining = limit
        return {
            "total_tokens": total,
            "total_cost": sum(r["cost"] for r in rows.values()),
            "by_model": rows,
            "limit": limit,
            "remaining": remaining,
        }

    def route(self, prompt: str, context: int, remaining: int | None) -> spec.Route:
        m = self.mutants
        if (
            "route-no-budget-rule" not in m
            and remaining is not None
            and (
                remaining <= spec.LOW_BUDGET_TOKENS
                if "route-budget-le" in m
                else remaining < spec.LOW_BUDGET_TOKENS
            )
        ):
            return spec.Route("haiku", 1)
        large = (
            context >= spec.LARGE_CONTEXT_TOKENS
            if "route-context-ge" in m
            else context > spec.LARGE_CONTEXT_TOKENS
        )
        limit = spec.SHORT_PROMPT_CHARS + (1 if "route-short-le" in m else 0)
        simple = len(prompt) < limit and bool(spec._words(prompt) & set(spec.SIMPLE_KEYWORDS))
        if "route-order-swapped" in m and simple:
            return spec.Route("haiku", 3)
        if large:
            return spec.Route("opus", 2)
        if simple:
            return spec.Route("haiku", 3)
        if spec._words(prompt) & set(spec.COMPLEX_KEYWORDS):
            return spec.Route("opus" if "route-complex-opus" in m else "sonnet", 4)
        return spec.Route("sonnet", 5)

    def run(self, project: str, model: str, prompt: str) -> tuple[str, int, int]:
        """One task: the answer's text and its token counts, counted in the project's usage."""
        content = f"Reference answer ({model}): {prompt[:60]}"
        i, o = tokens_of(prompt), tokens_of(content)
        self.entries.append(Entry(project, model, i, o, NOW))
        return content, i, o

    def estimate(self, model: str, prompt: str) -> int:
        """The tokens a task will use, known before running it (this implementation is
        deterministic, so the estimate is exact and no project ever ends above its limit)."""
        i = tokens_of(prompt)
        if "budget-estimate-input-only" in self.mutants:
            return i
        return i + tokens_of(f"Reference answer ({model}): {prompt[:60]}")


_REASONS = {
    1: "Low budget remaining (< 1000 tokens) → Haiku",
    2: "Large context (> 10k tokens) → Opus",
    3: "Simple prompt → Haiku",
    4: "Complex reasoning keywords with sufficient budget → Sonnet",
    5: "Medium complexity → Sonnet (default)",
}


# The routes are closures over one state and one mutant set, defined together so each reads as the
# seed describes it; splitting them out would only thread the same two values through.
def create_app(mutants: Iterable[str] = ()) -> Starlette:  # noqa: C901
    """The reference implementation as a Starlette app, with ``mutants`` switched on."""
    unknown = sorted(set(mutants) - set(MUTANTS))
    if unknown:
        raise ValueError(f"unknown mutant(s) {', '.join(unknown)}; known: {', '.join(MUTANTS)}")
    state = State(frozenset(mutants))
    m = state.mutants

    def error(status: int, detail: str) -> JSONResponse:
        return JSONResponse({"error" if "error-key-error" in m else "detail": detail}, status)

    async def body_of(request: Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def bad_model(model: Any) -> bool:
        return model is not None and model not in spec.MODELS and "unknown-model-accepted" not in m

    async def chat(request: Request) -> JSONResponse:
        body = await body_of(request)
        if body is None or not isinstance(body.get("messages"), list):
            return error(400, "Invalid request: messages is required (a list of messages)")
        messages = body["messages"]
        if not messages and "empty-messages-accepted" not in m:
            return error(400, "Invalid request: messages must not be empty")
        if bad_model(body.get("model")):
            return error(400, f"Invalid model: {body['model']}. Use 'haiku', 'sonnet', or 'opus'")
        project = str(body.get("project_id") or spec.DEFAULT_PROJECT)
        prompt = "\n".join(str(msg.get("content", "")) for msg in messages if isinstance(msg, dict))
        usage = state.usage(project)
        auto = state.route(prompt, int(body.get("max_tokens") or 0), usage["remaining"]).model
        model = body.get("model") or auto
        if "model-ignored" in m:
            model = auto
        limit = state.limit(project)
        over = (
            limit is not None
            and usage["total_tokens"] + state.estimate(model, prompt) > limit
            and "budget-not-enforced" not in m
        )
        if over and "budget-after-work" in m:
            state.run(project, model, prompt)
        if over:
            return error(429, f"Budget exceeded for project {project}")
        if FAIL_MARKER in prompt:
            return error(500, "Task failed: forced failure (reference implementation)")
        content, i, o = state.run(project, model, prompt)
        total = i if "usage-total-input-only" in m else i + o
        return JSONResponse(
            {
                "id": state.next_id(),
                "model": model,
                "content": content,
                "usage": {"input_tokens": i, "output_tokens": o, "total_tokens": total},
                "cost": state.cost(model, i, o),
                "project_id": project,
            }
        )

    async def batch(request: Request) -> JSONResponse:
        body = await body_of(request)
        if body is None or not isinstance(body.get("prompts"), list):
            return error(400, "Invalid request: prompts is required (a list of prompts)")
        if bad_model(body.get("model")):
            return error(400, f"Invalid model: {body['model']}. Use 'haiku', 'sonnet', or 'opus'")
        project = str(body.get("project_id") or spec.DEFAULT_PROJECT)
        results: list[dict[str, Any]] = []
        for item in body["prompts"]:
            item = item if isinstance(item, dict) else {}
            prompt, pid = str(item.get("prompt", "")), str(item.get("id", ""))
            model = (
                body.get("model") or state.route(prompt, 0, state.usage(project)["remaining"]).model
            )
            if FAIL_MARKER in prompt:
                results.append(
                    {
                        "id": pid,
                        "prompt": prompt,
                        "status": "failed",
                        "content": None,
                        "usage": None,
                        "cost": None,
                        "error": "Task failed: forced failure (reference implementation)",
                    }
                )
                continue
            content, i, o = state.run(project, model, prompt)
            total = i if "usage-total-input-only" in m else i + o
            results.append(
                {
                    "id": pid,
                    "prompt": prompt,
                    "status": "completed",
                    "content": content,
                    "error": None,
                    "usage": {"input_tokens": i, "output_tokens": o, "total_tokens": total},
                    "cost": state.cost(model, i, o),
                }
            )
        failed = sum(r["status"] == "failed" for r in results)
        if failed and "batch-partial-500" in m:
            return error(500, "Task failed: one or more prompts failed")
        completed = len(results) - failed
        costs = [r["cost"] for r in results if r["cost"] is not None]
        if "batch-cost-sum-short" in m and costs:
            costs = costs[:-1]
        tokens = sum(r["usage"]["total_tokens"] for r in results if r["usage"])
        if "batch-order-reversed" in m:
            results.reverse()
        return JSONResponse(
            {
                "total": completed if "batch-total-completed-only" in m else len(results),
                "completed": completed,
                "failed": failed,
                "results": results,
                "total_cost": sum(costs),
                "total_tokens": tokens,
            }
        )

    async def usage(request: Request) -> JSONResponse:
        project = request.query_params.get("project_id") or spec.DEFAULT_PROJECT
        period = request.query_params.get("period") or spec.DEFAULT_PERIOD
        if period not in spec.PERIODS:
            if "period-unchecked" not in m:
                return error(400, f"Invalid period: {period}. Use 'month', 'week', or 'day'")
            period = "month"
        shown = "month" if "period-ignored" in m else period
        return JSONResponse(
            {"project_id": project, "period": shown, **state.usage(project, period)}
        )

    async def route(request: Request) -> JSONResponse:
        body = await body_of(request)
        if body is None or not isinstance(body.get("prompt"), str):
            return error(400, "Invalid request: prompt is required")
        project = str(body.get("project_id") or spec.DEFAULT_PROJECT)
        status = state.usage(project)
        chosen = state.route(
            body["prompt"], int(body.get("context_size") or 0), status["remaining"]
        )
        return JSONResponse(
            {
                "recommended_model": chosen.model,
                "reasoning": _REASONS[chosen.rule],
                "budget_status": {
                    k: status[k] for k in ("total_tokens", "total_cost", "limit", "remaining")
                },
            }
        )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "status": "degraded" if "health-degraded" in m else "ok",
                "version": VERSION,
                "services": {"worker_pool": "running", "budget_manager": "initialized"},
            }
        )

    async def root(request: Request) -> JSONResponse:
        endpoints = dict(spec.ROOT_ENDPOINTS)
        if "root-endpoints-wrong" in m:
            endpoints["chat"] = "/chat"
        return JSONResponse(
            {
                "name": "Claude Code API Service",
                "version": VERSION,
                "docs": "/docs",
                "health": "/health",
                "endpoints": endpoints,
            }
        )

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return error(404, "Not Found")

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/batch", batch, methods=["POST"]),
            Route("/v1/usage", usage, methods=["GET"]),
            Route("/v1/route", route, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/", root, methods=["GET"]),
        ],
        exception_handlers={404: not_found},
    )
