"""Image content blocks: a PNG the test makes itself, sent as base64."""

from __future__ import annotations

import pytest

from conformance.api import Api
from conformance.suite._data import image_block, png, text_of

pytestmark = pytest.mark.feature("vision")


def test_png_image_block(api: Api) -> None:
    content = [image_block(png()),
               {"type": "text", "text": "Name the colour of this image in one word."}]
    message = api.expect(api.create_message(messages=[{"role": "user", "content": content}],
                                            max_tokens=16))
    assert text_of(message).strip()
    assert message["usage"]["input_tokens"] > 0


@pytest.mark.feature("errors")
def test_corrupt_image_rejected(api: Api) -> None:
    content = [image_block(b"not a png at all"), {"type": "text", "text": "What is this?"}]
    api.expect_error(api.create_message(messages=[{"role": "user", "content": content}]), 400)
