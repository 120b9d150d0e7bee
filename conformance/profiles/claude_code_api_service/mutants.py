"""The mutants of this profile: name -> the bug ``reference.py`` plants (``Profile.mutants``)."""

from __future__ import annotations

from collections.abc import Mapping

MUTANTS: Mapping[str, str] = {
    "cost-haiku-price": "every call is priced at haiku's rates, whatever its model",
    "cost-rounded": "costs are rounded to 4 decimals",
    "usage-total-input-only": "usage.total_tokens counts input tokens only",
    "model-ignored": "the model asked for is ignored: answers use the auto-selected model",
    "unknown-model-accepted": "any model string is accepted (priced as sonnet)",
    "empty-messages-accepted": "an empty messages list is answered",
    "budget-after-work": "an exceeded budget is answered 429 only after the call was counted",
    "budget-not-enforced": "budgets are never enforced",
    "budget-estimate-input-only": "the budget check estimates input tokens only",
    "batch-total-completed-only": "batch total counts only the completed results",
    "batch-cost-sum-short": "batch total_cost leaves out the last result",
    "batch-partial-500": "a batch with a failed prompt answers 500",
    "batch-order-reversed": "batch results come in reverse order",
    "period-unchecked": "any usage period is accepted (and treated as month)",
    "period-ignored": "usage answers always say period month",
    "remaining-is-limit": "remaining repeats limit instead of limit - total_tokens",
    "usage-sum-stale": "usage total_tokens leaves out the last model of by_model",
    "route-no-budget-rule": "routing ignores the budget (rule 1 missing)",
    "route-budget-le": "a budget of exactly 1000 tokens left counts as low",
    "route-context-ge": "a context of exactly 10,000 tokens counts as large",
    "route-short-le": "a simple prompt of exactly 100 chars counts as short",
    "route-order-swapped": "the simple-prompt rule is applied before the context rule",
    "route-complex-opus": "complex prompts are routed to opus",
    "error-key-error": 'errors are {"error": ...} instead of FastAPI\'s {"detail": ...}',
    "root-endpoints-wrong": "GET / lists the chat endpoint as /chat",
    "health-degraded": "GET /health says status degraded while serving",
}
