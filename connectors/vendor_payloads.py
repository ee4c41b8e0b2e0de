"""What the SaaS adapters share when they check a vendor's answer: record numbers, and the error naming the
endpoint and field at fault. Each adapter's own module checks its vendor's shapes with these."""

from __future__ import annotations

from typing import Any, ClassVar

from connectors.errors import MalformedResponse, excerpt

# A vendor's record number: a positive 64-bit integer.
MAX_ID = 2**63 - 1


def is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


class VendorShape:
    """The endpoint being read, for messages; subclasses name their ``vendor``."""

    vendor: ClassVar[str]

    def __init__(self, where: str, connector: str):
        self.where = where
        self.connector = connector

    def wrong(self, field: str, value: Any, expected: str) -> MalformedResponse:
        return MalformedResponse(
            f"{self.where}: field '{field}' is {excerpt(repr(value), 60)}, expected {expected}; {self.vendor} (or "
            "something in front of it) answered in a shape its API does not have",
            connector=self.connector,
        )
