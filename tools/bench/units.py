"""DynamoDB's sizing rules: an item's size in bytes, and the request units a read or a write of it is billed.

From the DynamoDB Developer Guide ("Item sizes and formats", "Capacity unit consumption"):
- an item's size is the sum of its attributes' names (UTF-8 bytes) and values: a string its UTF-8 bytes, a
  binary its bytes, a number about one byte per two significant digits plus one, a boolean or null one byte,
  a list or map 3 bytes plus one byte per element plus its elements (a map's keys count like names), a set the
  sum of its elements;
- a write is billed one unit per started KB of the item (a transactional write two); a put or an update over an
  existing item by the larger of the item before and after; a delete by the deleted item; a write whose
  condition fails by the existing item's size, at least one unit; BatchWriteItem item by item;
- a read is billed one unit per started 4 KB (eventually consistent: half; transactional: double); a Query or
  Scan by the sum of the items it examined (before any filter), rounded up once per request; a GetItem of
  nothing still costs one read.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096


def _number_size(text: str) -> int:
    digits = Decimal(text).normalize().as_tuple().digits  # leading and trailing zeros trimmed
    significant = len(digits) if any(digits) else 1
    return math.ceil(significant / 2) + 1


def value_size(value: dict[str, Any]) -> int:
    """The size of one attribute value in DynamoDB's wire form (``{"S": "…"}``, ``{"M": {…}}``…)."""
    [(kind, content)] = value.items()
    if kind == "S":
        return len(content.encode("utf-8"))
    if kind == "B":
        return len(content)
    if kind == "N":
        return _number_size(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(text.encode("utf-8")) for text in content)
    if kind == "NS":
        return sum(_number_size(text) for text in content)
    if kind == "BS":
        return sum(len(blob) for blob in content)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode("utf-8")) + value_size(element) for name, element in content.items())
    raise ValueError(f"not a DynamoDB attribute value type: {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    """An item's size in bytes (0 for no item)."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in (item or {}).items())


def write_units(size: int, *, transactional: bool = False) -> int:
    """Units for writing an item of ``size`` bytes: one per started KB, at least one."""
    return max(1, math.ceil(size / WRITE_UNIT_BYTES)) * (2 if transactional else 1)


def put_or_update_units(before: dict[str, Any] | None, after: dict[str, Any] | None) -> int:
    """A PutItem or UpdateItem (or a batch's put) that succeeded: the larger of the item before and after."""
    return write_units(max(item_size(before), item_size(after)))


def failed_condition_units(existing: dict[str, Any] | None) -> int:
    """A write whose condition failed: the existing item's size, at least one unit."""
    return write_units(item_size(existing))


def read_units(total_size: int, *, consistent: bool, transactional: bool = False) -> float:
    """Units for one read request of ``total_size`` bytes (a Query's examined items summed), at least one 4 KB."""
    units = float(max(1, math.ceil(total_size / READ_UNIT_BYTES)))
    if transactional:
        return units * 2
    return units if consistent else units / 2
