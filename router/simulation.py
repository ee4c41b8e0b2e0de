"""Policy replay: run labelled tickets through the models and a policy, and compare two policies.

``simulate`` answers "what would this policy do on this data?": how many tickets would be routed
automatically or abstained, where they would go, how often an auto-routed ticket lands in the wrong queue
(against the label), the priority mix, and how many proactive contacts the guardrails would let through.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors import Customer, Ticket
from policies import Decision, OutreachRecord, RoutingPolicy, Signals, decide
from router.signals.signal_source import NoSignals
from router.training.labelled import AsRecords, read_labelled

SignalsFor = Callable[[Sequence[Ticket]], list[Signals]]


# No models: every ticket gets empty signals, so only the policy's rules act.
rules_only: SignalsFor = NoSignals().signals_for


@dataclass
class ReplayTicket:
    ticket: Ticket
    label: str | None
    decision: Decision

    @property
    def team(self) -> str | None:
        for action in self.decision.actions:
            if action.kind == "route":
                return str(action.params["queue"])
        return None

    @property
    def priority(self) -> str | None:
        for action in self.decision.actions:
            if action.kind == "set_priority":
                return str(action.params["priority"])
        return None

    @property
    def tags(self) -> list[str]:
        return sorted({t for a in self.decision.actions if a.kind == "add_tags" for t in a.params["tags"]})

    @property
    def outreach(self) -> bool:
        return any(a.kind == "create_outreach" for a in self.decision.actions)

    def summary(self) -> dict[str, Any]:
        return {
            "queue": self.team,
            "priority": self.priority,
            "tags": self.tags,
            "abstained": self.decision.abstained,
            "outreach": self.outreach,
            "rules": self.decision.fired_rules(),
        }


@dataclass
class SimulationReport:
    policy: str
    policy_version: str
    dataset: str
    n: int = 0
    auto_routed: int = 0
    abstained: int = 0
    unrouted: int = 0
    misrouted: int = 0
    labelled_auto: int = 0
    per_queue: Counter[str] = field(default_factory=Counter)
    priorities: Counter[str] = field(default_factory=Counter)
    outreach: int = 0
    outreach_refused: int = 0
    rules_fired: Counter[str] = field(default_factory=Counter)
    bad_rows: list[str] = field(default_factory=list)

    @property
    def misroute_rate(self) -> float | None:
        return self.misrouted / self.labelled_auto if self.labelled_auto else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "policy_version": self.policy_version,
            "dataset": self.dataset,
            "tickets": self.n,
            "auto_routed": self.auto_routed,
            "auto_routed_share": self.auto_routed / self.n if self.n else 0.0,
            "abstained": self.abstained,
            "abstained_share": self.abstained / self.n if self.n else 0.0,
            "not_routed": self.unrouted,
            "misroute_rate_auto": self.misroute_rate,
            "per_queue": dict(self.per_queue.most_common()),
            "priorities": dict(self.priorities.most_common()),
            "outreach": self.outreach,
            "outreach_refused_by_guardrails": self.outreach_refused,
            "rules_fired": dict(self.rules_fired.most_common()),
            "bad_rows": len(self.bad_rows),
        }


def replay(
    policy: RoutingPolicy,
    tickets: Sequence[Ticket],
    labels: Sequence[str | None],
    signals: Sequence[Signals],
    *,
    start: datetime,
    spacing: timedelta = timedelta(minutes=5),
    customers: dict[str, Customer] | None = None,
) -> list[ReplayTicket]:
    """Decide every ticket in order, as if they arrived ``spacing`` apart from ``start``.

    Outreach history accumulates during the replay, so cool-downs and daily caps act as they would live.
    """
    history: dict[str, list[OutreachRecord]] = defaultdict(list)
    out: list[ReplayTicket] = []
    for i, (ticket, label, sig) in enumerate(zip(tickets, labels, signals, strict=True)):
        now = start + spacing * i
        customer = (customers or {}).get(ticket.requester or "")
        past = history[customer.external_id] if customer else []
        decision = decide(policy, ticket, customer, sig, now, past)
        if customer and any(a.kind == "create_outreach" for a in decision.actions):
            history[customer.external_id].append(OutreachRecord(sent_at=now, customer_external_id=customer.external_id))
        out.append(ReplayTicket(ticket, label, decision))
    return out


def simulate(
    policy: RoutingPolicy,
    policy_name: str,
    dataset: Path,
    *,
    label: str | None,
    signals_for: SignalsFor = rules_only,
    start: datetime | None = None,
    customers: dict[str, Customer] | None = None,
    connector: str = "file",
    encoding: str = "auto",
) -> tuple[SimulationReport, list[ReplayTicket]]:
    """Replay a labelled file through the models and ``policy``; the figures a support lead checks first."""
    data = read_labelled([dataset], label_column=label, encoding=encoding, records=AsRecords())
    tickets, labels, problems = data.records, data.labels, data.problems
    signals = signals_for(tickets)
    results = replay(
        policy, tickets, labels, signals, start=start or datetime(2026, 1, 5, 9, tzinfo=UTC), customers=customers
    )
    report = SimulationReport(
        policy=policy_name, policy_version=policy.version, dataset=str(dataset), bad_rows=problems
    )
    triage = policy.defaults.triage_queue
    for r in results:
        report.n += 1
        team = r.team
        if r.decision.abstained:
            report.abstained += 1
        elif team is None:
            report.unrouted += 1
        elif team != triage:
            report.auto_routed += 1
            if r.label is not None:
                report.labelled_auto += 1
                # A label names a team, or a queue of the connector the dataset came from (e.g. the German
                # team files its tickets under Customer Service in the dataset's own queues).
                if r.label not in (team, policy.queue_for(team, connector)) and policy.team_for_intent(r.label) != team:
                    report.misrouted += 1
        report.per_queue[team or "(not routed)"] += 1
        report.priorities[r.priority or "(unchanged)"] += 1
        report.outreach += int(r.outreach)
        report.outreach_refused += sum(
            1 for t in r.decision.trace for e in t.effects if e.startswith("outreach not planned")
        )
        for rule in r.decision.fired_rules():
            report.rules_fired[rule] += 1
    return report, results


@dataclass
class DecisionChange:
    ticket_id: str
    subject: str
    before: dict[str, Any]
    after: dict[str, Any]

    @property
    def changed_fields(self) -> list[str]:
        return [k for k in ("queue", "priority", "tags", "abstained", "outreach") if self.before[k] != self.after[k]]


def diff(
    policy_a: RoutingPolicy,
    policy_b: RoutingPolicy,
    dataset: Path,
    *,
    signals_for: SignalsFor = rules_only,
    start: datetime | None = None,
    encoding: str = "auto",
) -> tuple[int, list[DecisionChange]]:
    """The tickets whose decision changes between two policies, and how (same signals for both)."""
    data = read_labelled([dataset], encoding=encoding, records=AsRecords())
    tickets, labels = data.records, data.labels
    signals = signals_for(tickets)
    when = start or datetime(2026, 1, 5, 9, tzinfo=UTC)
    a = replay(policy_a, tickets, labels, signals, start=when)
    b = replay(policy_b, tickets, labels, signals, start=when)
    changes = []
    for ra, rb in zip(a, b, strict=True):
        sa_, sb = ra.summary(), rb.summary()
        before = {k: sa_[k] for k in ("queue", "priority", "tags", "abstained", "outreach")}
        after = {k: sb[k] for k in ("queue", "priority", "tags", "abstained", "outreach")}
        if before != after:
            changes.append(DecisionChange(ra.ticket.external_id, ra.ticket.subject, before, after))
    return len(tickets), changes
