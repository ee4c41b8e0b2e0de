"""Signals (the models' view of a ticket: a policy's input) and Decision (a policy's output)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connectors import Action, Priority


class LabelScore(BaseModel):
    """One candidate label with its calibrated probability."""

    model_config = ConfigDict(extra="forbid")

    label: str
    probability: float = Field(ge=0.0, le=1.0)


class Neighbour(BaseModel):
    """A similar past ticket found in the vector index."""

    model_config = ConfigDict(extra="forbid")

    ticket_id: str
    score: float
    subject: str | None = None
    queue: str | None = None


class Signals(BaseModel):
    """What the models say about one ticket. Every part is optional: a policy can run on rules alone."""

    model_config = ConfigDict(extra="forbid")

    intent: str | None = None
    intent_probability: float | None = Field(default=None, ge=0.0, le=1.0)
    intent_top_k: list[LabelScore] = Field(default_factory=list)
    urgency: Priority | None = None
    urgency_probability: float | None = Field(default=None, ge=0.0, le=1.0)
    text_urgency: Priority | None = Field(
        default=None, description="What the words alone said, when a behaviour-aware urgency model set urgency."
    )
    urgency_reasons: list[str] = Field(
        default_factory=list, description="Who is writing, in words, where it moved urgency from the words' level."
    )
    churn_risk: float | None = Field(default=None, ge=0.0, le=1.0)
    churn_reasons: list[str] = Field(default_factory=list)
    language: str | None = None
    abstain: bool = Field(default=False, description="The intent model's own data-chosen threshold said no.")
    abstain_reason: str | None = None
    novel: bool = Field(
        default=False,
        description="The intent model abstained as the ticket is unlike all it learnt from (not for low confidence).",
    )
    neighbours: list[Neighbour] = Field(default_factory=list)
    features: dict[str, Any] = Field(default_factory=dict, description="Customer behaviour features.")
    model_versions: dict[str, str] = Field(default_factory=dict)


class RuleTrace(BaseModel):
    """Why one rule fired or did not: the first failing condition with the values compared.

    ``details`` lists, for a rule that fired, the tests that held with the values seen; ``effects`` lists
    what the rule contributed to the decision, including what it wanted but did not get (a queue already
    set by an earlier rule, an outreach the guardrails refused). Entries named in parentheses, such as
    ``(abstain)``, ``(intent)`` and ``(default)``, are the policy's defaults rather than written rules.
    """

    model_config = ConfigDict(extra="forbid")

    rule: str
    fired: bool
    reason: str = ""
    details: list[str] = Field(default_factory=list)
    effects: list[str] = Field(default_factory=list)


class Decision(BaseModel):
    """The actions a policy chose for a ticket, with the trace of why and the policy's version."""

    model_config = ConfigDict(extra="forbid")

    actions: list[Action] = Field(default_factory=list)
    trace: list[RuleTrace] = Field(default_factory=list)
    policy_version: str
    abstained: bool = False
    abstain_reason: str | None = None
    abstain_source: Literal["model", "min_confidence"] | None = Field(
        default=None, description="Who abstained: the intent model's own threshold, or the policy's."
    )
    policy_name: str = ""
    decision_scope: str = Field(default="", description="What the actions' idempotency keys are scoped to.")
    decided_at: datetime | None = None

    def fired_rules(self) -> list[str]:
        """Names of the rules that fired, in order (defaults in parentheses included)."""
        return [t.rule for t in self.trace if t.fired]

    def action(self, kind: str) -> Action | None:
        """The decision's action of one kind, if any (a decision has at most one of each)."""
        return next((a for a in self.actions if a.kind == kind), None)

    @property
    def queue(self) -> str | None:
        """The team the ticket is routed to, if the decision routes it."""
        route = self.action("route")
        return None if route is None else str(route.params["queue"])

    @property
    def priority(self) -> Priority | None:
        action = self.action("set_priority")
        return None if action is None else action.params["priority"]
