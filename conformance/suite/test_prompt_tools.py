"""The experimental prompt tools (closed research preview): generate, improve, templatize.

The beta header comes from the feature marker (catalog.BETAS); answers are checked against the
schemas and, for templatize, the placeholder rules (``{{UPPER_CASE}}``, one per variable).
"""

from __future__ import annotations

import pytest

from conformance.api import Api

pytestmark = pytest.mark.feature("prompt_tools")

PROMPT = [{"role": "user", "content": 'Translate "good morning" into French, then count to 3.'}]


def test_generate_prompt(api: Api) -> None:
    body = api.expect(
        api.call("prompt_tools.generate", {"task": "Summarise a support ticket in one sentence"})
    )
    assert body["messages"] and isinstance(body["usage"], list)


def test_improve_prompt(api: Api) -> None:
    body = api.expect(
        api.call(
            "prompt_tools.improve",
            {"messages": PROMPT, "system": "You translate.", "feedback": "Be more precise."},
        )
    )
    assert body["messages"][0]["role"] == "user"


def test_templatize_prompt(api: Api) -> None:
    body = api.expect(
        api.call("prompt_tools.templatize", {"messages": PROMPT, "system": "You translate."})
    )
    assert body["variable_values"], "templatize finds at least one variable"
