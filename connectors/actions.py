"""Action: the one vocabulary of things deskroute can do in a helpdesk."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.records import PRIORITIES

ActionKind = Literal["route", "set_priority", "add_tags", "add_note", "assign", "create_outreach"]
ACTION_KINDS: tuple[ActionKind, ...] = (
    "route",
    "set_priority",
    "add_tags",
    "add_note",
    "assign",
    "create_outreach",
)

# Parameters each kind needs; connectors rely on them being present.
REQUIRED_PARAMS: dict[str, tuple[str, ...]] = {
    "route": ("queue",),
    "set_priority": ("priority",),
    "add_tags": ("tags",),
    "add_note": ("body",),
    "assign": ("assignee",),
    "create_outreach": ("subject", "body", "channel"),
}

# Which kinds a connector's mode lets through: shadow writes nothing, suggest only tags and the note.
SUGGEST_KINDS: frozenset[str] = frozenset({"add_tags", "add_note"})


def _key_text(value: list[Any]) -> str:
    """The text an idempotency key is hashed from. Keys are persisted in outboxes: this must never change."""
    return json.dumps(value, sort_keys=True, default=str)


class Action(BaseModel):
    """One write deskroute wants to make in a helpdesk.

    ``target`` is the ticket's external id, or the customer's for ``create_outreach``.
    ``idempotency_key`` identifies the action across retries: applying it twice changes the helpdesk once.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ActionKind
    target: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str = ""

    @model_validator(mode="after")
    def _check(self) -> Action:
        missing = [p for p in REQUIRED_PARAMS[self.kind] if p not in self.params]
        if missing:
            raise ValueError(f"action '{self.kind}' needs parameter(s) {', '.join(missing)}")
        if self.kind == "set_priority" and self.params["priority"] not in PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}, not {self.params['priority']!r}")
        if self.kind == "add_tags" and not (
            isinstance(self.params["tags"], list) and all(isinstance(t, str) for t in self.params["tags"])
        ):
            raise ValueError("add_tags needs 'tags' as a list of strings")
        if not self.idempotency_key:
            object.__setattr__(self, "idempotency_key", self.default_key())
        return self

    def default_key(self, scope: str = "") -> str:
        """A stable key from the action's content (and an optional scope such as a decision id)."""
        payload = _key_text([scope, self.kind, self.target, self.params])
        return hashlib.sha256(payload.encode()).hexdigest()[:24]

    def marker(self) -> str:
        """The line written into notes and outreach so a retry can see the action was already applied."""
        return f"deskroute:action={self.idempotency_key}"


class ActionResult(BaseModel):
    """What a connector did with an action."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["applied", "already_applied", "skipped", "failed"]
    detail: str = ""
    external_ref: str | None = Field(default=None, description="e.g. the id of a created outreach ticket")
