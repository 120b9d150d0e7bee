"""Image content blocks: a PNG the test makes itself, sent as base64."""

from __future__ import annotations

import pytest

from conformance.api import Api
from conformance.suite._data import image_block, input_tokens, png, text_of

pytestmark = pytest.mark.feature("vision")

QUESTION = "Name the colour of this image in one word."
#: The least an image must add to the bill. The API documents about width * height / 750 tokens
#: per image (about 53 for the 200 x 200 one sent here); the reference server bills 85.
IMAGE_MARGIN = 20


def test_png_image_block(api: Api) -> None:
    content = [image_block(png(200, 200)), {"type": "text", "text": QUESTION}]
    message = api.expect(
        api.create_message(messages=[{"role": "user", "content": content}], max_tokens=16)
    )
    assert text_of(message).strip()
    # The image reached the model only if it was billed: a proxy that drops image blocks
    # still gets a text answer, but not the image's input tokens.
    without = input_tokens(api.expect(api.create_message(QUESTION, max_tokens=16)))
    assert input_tokens(message) >= without + IMAGE_MARGIN, (
        f"with the image the request was billed {input_tokens(message)} input tokens, without "
        f"it {without}: the image did not reach the model (expected at least {IMAGE_MARGIN} "
        "more)"
    )


@pytest.mark.feature("errors")
def test_corrupt_image_rejected(api: Api) -> None:
    content = [image_block(b"not a png at all"), {"type": "text", "text": "What is this?"}]
    api.expect_error(api.create_message(messages=[{"role": "user", "content": content}]), 400)
