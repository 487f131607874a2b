"""How spans are packed into requests: several per request, bounded in count and size."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

MAX_REQUEST_BYTES = 24_000

T = TypeVar("T")


def pack(items: list[T], size: Callable[[T], int], max_count: int) -> list[list[T]]:
    """Items in order, cut into groups of at most max_count and MAX_REQUEST_BYTES.

    An item larger than the limit goes alone. The cost estimates pack (characters, finding)
    pairs with this same function, so they price the requests the stage would send.
    """
    groups: list[list[T]] = []
    total = 0
    for item in items:
        weight = size(item)
        if not groups or len(groups[-1]) >= max_count or total + weight > MAX_REQUEST_BYTES:
            groups.append([])
            total = 0
        groups[-1].append(item)
        total += weight
    return groups

