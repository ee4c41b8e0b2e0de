"""The routing policy as loaded: teams, defaults, guardrails and ordered rules, ready for ``decide()``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from connectors import Priority
from policies.conditions import Condition
from policies.policy_errors import PolicyIssue
from policies.templates import NoteTemplate

LANGUAGE_VERSION = 1


@dataclass(frozen=True)
class RouteTo:
    """``route: TEAM`` — send the ticket to a declared team's queue."""

    team: str

    def canonical(self) -> Any:
        return {"route": self.team}


@dataclass(frozen=True)
class SetPriority:
    priority: Priority

    def canonical(self) -> Any:
        return {"set_priority": self.priority}


@dataclass(frozen=True)
class AssignTo:
    assignee: str

    def canonical(self) -> Any:
        return {"assign": self.assignee}


@dataclass(frozen=True)
class AddTags:
    tags: tuple[str, ...]

    def canonical(self) -> Any:
        return {"add_tags": list(self.tags)}


@dataclass(frozen=True)
class AddNote:
    template: NoteTemplate

    def canonical(self) -> Any:
        return {"add_note": {"template": self.template.source, "max_length": self.template.max_length}}


@dataclass(frozen=True)
class CreateOutreach:
    """Contact the customer proactively (a churn save, say); always subject to the outreach guardrails."""

    channel: str
    subject: NoteTemplate
    body: NoteTemplate

    def canonical(self) -> Any:
        return {
            "create_outreach": {
                "channel": self.channel,
                "subject": self.subject.source,
                "template": self.body.source,
                "max_length": self.body.max_length,
            }
        }


RuleAction = RouteTo | SetPriority | AssignTo | AddTags | AddNote | CreateOutreach


@dataclass(frozen=True)
class Rule:
    """One ``when`` → ``then`` rule; ``min_confidence`` gates it on the intent model's confidence."""

    name: str
    when: Condition
    then: tuple[RuleAction, ...]
    description: str = ""
    stop: bool = False
    override: bool = False
    min_confidence: float | None = None
    line: int = 0

    def canonical(self) -> Any:
        return {
            "name": self.name,
            "when": self.when.canonical(),
            "then": [a.canonical() for a in self.then],
            "stop": self.stop,
            "override": self.override,
            "min_confidence": self.min_confidence,
        }


@dataclass(frozen=True)
class Defaults:
    """What happens when no rule decides: fallback queue/priority, and when to abstain."""

    triage_queue: str
    queue: str | None = None
    priority: Priority | None = None
    min_confidence: float = 0.0
    route_by_intent: bool = True
    abstain_note: NoteTemplate | None = None

    def canonical(self) -> Any:
        return {
            "triage_queue": self.triage_queue,
            "queue": self.queue,
            "priority": self.priority,
            "min_confidence": self.min_confidence,
            "route_by_intent": self.route_by_intent,
            "abstain_note": self.abstain_note.source if self.abstain_note else None,
        }


@dataclass(frozen=True)
class BusinessHours:
    """Opening hours in a time zone: ``start`` inclusive, ``end`` exclusive, on ``days``, except holidays."""

    timezone: ZoneInfo
    days: frozenset[int]
    start: time
    end: time
    holidays: frozenset[date] = frozenset()

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` (timezone-aware) falls within business hours."""
        local = moment.astimezone(self.timezone)
        if local.weekday() not in self.days or local.date() in self.holidays:
            return False
        return _in_window(local.time(), self.start, self.end)

    def canonical(self) -> Any:
        return {
            "timezone": self.timezone.key,
            "days": sorted(self.days),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }


def _in_window(moment: time, start: time, end: time) -> bool:
    """start <= moment < end, where a window like 20:00-08:00 runs over midnight."""
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end


@dataclass(frozen=True)
class OutreachGuardrails:
    """Limits on contacting a customer proactively. Opt-out is always respected and is not configurable."""

    cooldown_hours: float = 168.0
    daily_cap: int = 1
    quiet_start: time | None = None
    quiet_end: time | None = None
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    def in_quiet_hours(self, moment: datetime) -> bool:
        if self.quiet_start is None or self.quiet_end is None:
            return False
        return _in_window(moment.astimezone(self.timezone).time(), self.quiet_start, self.quiet_end)

    def canonical(self) -> Any:
        return {
            "cooldown_hours": self.cooldown_hours,
            "daily_cap": self.daily_cap,
            "quiet_hours": [self.quiet_start.isoformat(), self.quiet_end.isoformat()]
            if self.quiet_start and self.quiet_end
            else None,
            "timezone": self.timezone.key,
        }


@dataclass(frozen=True)
class RoutingPolicy:
    """A validated policy. Build one with :func:`policies.parse_policy` or :func:`policies.load_policy`."""

    name: str
    source: str
    timezone: ZoneInfo
    queues: Mapping[str, Mapping[str, str]]
    intents: Mapping[str, str]
    defaults: Defaults
    rules: tuple[Rule, ...]
    outreach: OutreachGuardrails
    business_hours: BusinessHours | None = None
    description: str = ""
    version: str = ""
    warnings: tuple[PolicyIssue, ...] = ()

    @property
    def teams(self) -> list[str]:
        """The declared team names, in file order."""
        return list(self.queues)

    def queue_for(self, team: str, connector: str) -> str | None:
        """The helpdesk's own queue (name or id) for a team on a configured connector, if mapped."""
        mapping = self.queues.get(team)
        if mapping is None:
            return None
        return mapping.get(connector)

    def team_for_intent(self, label: str | None) -> str | None:
        """The team an intent label stands for: the ``intents`` mapping, else the label if it is a team."""
        if label is None:
            return None
        if label in self.intents:
            return self.intents[label]
        return label if label in self.queues else None

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def canonical(self) -> dict[str, Any]:
        """The policy's behaviour as plain data; its hash is the policy version."""
        return {
            "language": LANGUAGE_VERSION,
            "name": self.name,
            "timezone": self.timezone.key,
            "queues": {team: dict(sorted(m.items())) for team, m in self.queues.items()},
            "intents": dict(sorted(self.intents.items())),
            "defaults": self.defaults.canonical(),
            "business_hours": self.business_hours.canonical() if self.business_hours else None,
            "outreach": self.outreach.canonical(),
            "rules": [r.canonical() for r in self.rules],
        }

    def content_hash(self) -> str:
        payload = json.dumps(self.canonical(), sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
