"""Clients' JSON (request bodies, GraphQL variables), walked with a stack, never by recursion.

A 700-byte body can nest arrays 300 levels deep; a recursive walk of it overflows Python's
stack (a RecursionError, a 500 and a traceback of hundreds of kilobytes in the log). Every
walk here is iterative and stops at `max_depth` levels, so its cost is bounded by the
body size (itself bounded) and its stack by nothing at all.
"""

from collections.abc import Iterator
from itertools import chain
from typing import Any


class InputTooDeep(Exception):
    """JSON nested deeper than allowed: the client's fault, answered 400 INPUT_TOO_DEEP."""

    code = "INPUT_TOO_DEEP"

    def __init__(self, max_depth: int) -> None:
        super().__init__(
            f"The JSON input nests arrays and objects more than {max_depth} levels deep."
        )
        self.message = str(self)
        self.max_depth = max_depth


def containers(value: Any, max_depth: int) -> Iterator[list[Any] | dict[Any, Any]]:
    """Every array and object in `value` (itself at level 1); InputTooDeep past `max_depth`."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, list | dict):
            continue
        if depth > max_depth:
            raise InputTooDeep(max_depth)
        yield item
        children = item.values() if isinstance(item, dict) else item
        # Only containers go on the stack: a huge flat array costs one pass, no pushes.
        stack.extend((child, depth + 1) for child in children if isinstance(child, list | dict))


def check_depth(value: Any, max_depth: int) -> None:
    """InputTooDeep when `value` nests more than `max_depth` levels of arrays and objects."""
    for _ in containers(value, max_depth):
        pass


def holds_nul(value: Any, max_depth: int) -> bool:
    """Whether a string of `value` (an object's keys included) holds U+0000, which
    PostgreSQL refuses in text; InputTooDeep past `max_depth` levels."""
    if isinstance(value, str):
        return "\x00" in value
    for container in containers(value, max_depth):
        items = chain(container, container.values()) if isinstance(container, dict) else container
        if any(isinstance(item, str) and "\x00" in item for item in items):
            return True
    return False
