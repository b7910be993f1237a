"""JSON from outside (request bodies, queue messages), parsed within bounds whatever its shape.

The standard library's parser recurses once per level of nesting (10,000 levels raise RecursionError) and
turns an integer of more than 4,300 digits into a ValueError of its own: neither is a clean "not JSON".
pydantic-core's parser (already in every function, with pydantic) stops at a fixed depth, refuses such
integers, NaN and Infinity, lone surrogates and bytes that are not UTF-8, each with a plain reason.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json

# pydantic-core's recursion limit: its parser takes this many nested objects or arrays and refuses deeper ones
# (a request body is 3 levels deep, an event 4). Tests pin it.
MAX_DEPTH = 200
# Python's limit for turning digits into an int (sys.get_int_max_str_digits()); the parser keeps the same one.
MAX_INT_DIGITS = 4300


class UnreadableJson(ValueError):
    """The text is not JSON within the bounds; ``reason`` says why (never quoting the text)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def loads(text: str | bytes) -> Any:
    """The JSON value of ``text`` (bytes must be UTF-8); UnreadableJson for anything else, never RecursionError."""
    try:
        if isinstance(text, bytes):
            text.decode("utf-8")  # checked here, so that the reason is plain
            data = text
        else:
            data = text.encode("utf-8")  # a str may hold lone surrogates, which UTF-8 cannot encode
    except UnicodeError:
        raise UnreadableJson("not valid UTF-8") from None
    try:
        return from_json(data, allow_inf_nan=False)
    except ValueError as error:
        # e.g. "recursion limit exceeded at line 1 column 202", "number out of range at line 1 column 4307"
        raise UnreadableJson(str(error)) from None
