"""Signals (the models' view of a ticket: a policy's input) and Decision (a policy's output)."""

from __future__ import annotations

from typing import Any

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
    churn_risk: float | None = Field(default=None, ge=0.0, le=1.0)
    churn_reasons: list[str] = Field(default_factory=list)
    language: str | None = None
    abstain: bool = Field(default=False, description="The intent model's own data-chosen threshold said no.")
    abstain_reason: str | None = None
    neighbours: list[Neighbour] = Field(default_factory=list)
    features: dict[str, Any] = Field(default_factory=dict, description="Customer behaviour features.")
    model_versions: dict[str, str] = Field(default_factory=dict)


class RuleTrace(BaseModel):
    """Why one rule fired or did not: the first failing condition with the values compared."""

    model_config = ConfigDict(extra="forbid")

    rule: str
    fired: bool
    reason: str = ""
    details: list[str] = Field(default_factory=list)


class Decision(BaseModel):
    """The actions a policy chose for a ticket, with the trace of why and the policy's version."""

    model_config = ConfigDict(extra="forbid")

    actions: list[Action] = Field(default_factory=list)
    trace: list[RuleTrace] = Field(default_factory=list)
    policy_version: str
    abstained: bool = False
    abstain_reason: str | None = None

    def fired_rules(self) -> list[str]:
        return [t.rule for t in self.trace if t.fired]
