"""An upstream record that cannot be read is one line naming the URL, not an httpx traceback."""

from __future__ import annotations

import socket

import pytest

from conformance.exchange import Exchange
from conformance.upstream import UpstreamJournal, UpstreamLookupError, UpstreamUnreachable


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_unreachable_upstream_names_the_url_and_the_setting() -> None:
    url = _dead_url()
    journal = UpstreamJournal(url, "k", timeout=1.0)
    proxy = Exchange("POST", "/v1/messages", 200, {"request-id": "req_x"})
    try:
        with pytest.raises(UpstreamUnreachable) as info:
            journal.answer_for(proxy, "conformance-m")
    finally:
        journal.close()
    message = str(info.value)
    assert message.startswith(f"the upstream {url} (--anthropic-upstream-url) is unreachable: ")
    assert "ConnectError" in message and "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert isinstance(info.value, UpstreamLookupError)
