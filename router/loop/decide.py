"""Deciding: for each ticket that triage lets through, signals -> policy -> the decision and its outbox rows,
committed together, with the agents' explanation note and tags added to the policy's actions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from connectors import Action, Ticket
from policies import Decision, OutreachRecord, RoutingPolicy, Signals, decide
from router.loop.agent_note import agent_note, agent_tags
from router.loop.triage import (
    Outcome,
    claim_pending,
    find_customer,
    mark_triaged,
    needs_signals,
    ticket_version,
    triage,
)
from router.signals.signal_source import SignalSource
from router.store import Store, to_record
from router.store.decision_log import DecisionRecord, outreach_times, save_decision
from router.store.tables import DecisionRow, TicketRow

# On a customer's reply the routing stays where it is: only these may change.
REPLY_KINDS = frozenset({"set_priority", "add_tags", "add_note", "create_outreach"})


@dataclass
class EngineReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    decisions: list[int] = field(default_factory=list)

    @property
    def decided(self) -> int:
        return self.outcomes["decided_new"] + self.outcomes["decided_reply"]


class Engine:
    """Takes tickets through signals -> decide -> outbox for one connector."""

    def __init__(
        self,
        policy: RoutingPolicy,
        signal_source: SignalSource,
        *,
        connector: str,
        mode: str,
        agent_user: str | None = None,
    ):
        self.policy = policy
        self.signal_source = signal_source
        self.connector = connector
        self.mode = mode
        self.agent_user = agent_user.lower() if agent_user else None

    def consider(self, session: Session, ticket: Ticket, now: datetime) -> tuple[Outcome, DecisionRow | None]:
        """Decide for one ticket if it needs it; adds the decision and its outbox rows to the session."""
        customer = find_customer(session, ticket)
        outcome, _prior = triage(session, ticket, customer, now, agent_user=self.agent_user)
        if outcome not in ("decided_new", "decided_reply"):
            return outcome, None
        signals = self.signal_source.signals(session, ticket, customer, now)
        history = (
            [
                OutreachRecord(sent_at=t, customer_external_id=customer.external_id)
                for t in outreach_times(session, ticket.source, customer.external_id)
            ]
            if customer
            else []
        )
        decision = decide(self.policy, ticket, customer, signals, now, history)
        similar = neighbour_subjects(session, ticket.source, [n.ticket_id for n in signals.neighbours[:3]])
        row = save_decision(session, self.record(ticket, signals, decision, outcome, similar), now)
        if row is None:
            # Another process decided this version between our triage and our insert: theirs stands.
            return "skipped_seen", None
        return outcome, row

    def _explained(
        self, ticket: Ticket, signals: Signals, decision: Decision, actions: list[Action], similar: dict[str, str]
    ) -> list[Action]:
        """Add the agents' view: the explanation note (before the policy's own notes) and intent/churn tags."""
        scope = decision.decision_scope or f"{ticket.source}:{ticket.external_id}:{ticket_version(ticket)}"
        note = agent_note(ticket, signals, decision, similar)
        tags = agent_tags(signals)
        out: list[Action] = []
        noted = tagged = False
        for action in actions:
            if action.kind == "add_note" and not noted:
                action = Action(
                    kind="add_note",
                    target=action.target,
                    params={**action.params, "body": f"{note}\n\n{action.params['body']}"},
                    idempotency_key=action.idempotency_key,
                )
                noted = True
            elif action.kind == "add_tags" and not tagged:
                merged = list(dict.fromkeys([*action.params["tags"], *tags]))
                action = Action(
                    kind="add_tags",
                    target=action.target,
                    params={**action.params, "tags": merged},
                    idempotency_key=action.idempotency_key,
                )
                tagged = True
            out.append(action)
        if tags and not tagged:
            extra = Action(kind="add_tags", target=ticket.external_id, params={"tags": tags}, idempotency_key="-")
            out.append(extra.model_copy(update={"idempotency_key": extra.default_key(scope)}))
        if not noted:
            extra = Action(
                kind="add_note", target=ticket.external_id, params={"body": note, "public": False}, idempotency_key="-"
            )
            out.append(extra.model_copy(update={"idempotency_key": extra.default_key(scope)}))
        return out

    def record(
        self, ticket: Ticket, signals: Signals, decision: Decision, outcome: Outcome, similar: dict[str, str]
    ) -> DecisionRecord:
        actions: list[Action] = []
        team = queue = priority = None
        seen: set[str] = set()
        for action in decision.actions:
            if outcome == "decided_reply" and action.kind not in REPLY_KINDS:
                continue
            if action.kind == "route":
                team = str(action.params["queue"])
                queue = self.policy.queue_for(team, self.connector) or team
                action = Action(
                    kind="route",
                    target=action.target,
                    params={**action.params, "queue": queue, "team": team},
                    idempotency_key=action.idempotency_key,
                )
            if action.kind == "set_priority":
                priority = str(action.params["priority"])
            if action.idempotency_key in seen:
                continue
            seen.add(action.idempotency_key)
            actions.append(action)
        actions = self._explained(ticket, signals, decision, actions, similar)
        return DecisionRecord(
            source=ticket.source,
            ticket_id=ticket.external_id,
            ticket_version=ticket_version(ticket),
            reason="new" if outcome == "decided_new" else "customer_reply",
            mode=self.mode,
            policy_version=decision.policy_version,
            model_versions=dict(signals.model_versions),
            signals=signals.model_dump(mode="json"),
            decision=decision.model_dump(mode="json"),
            abstained=decision.abstained,
            queue=queue,
            team=team,
            priority=priority,
            ticket_queue=ticket.queue,
            actions=actions,
        )

    def run(self, session: Session, tickets: Iterable[Ticket], now: datetime | None = None) -> EngineReport:
        """Consider each ticket, committing each decision with its outbox rows (or a correction) on its own."""
        report = EngineReport()
        self.consider_batch(session, list(tickets), now or datetime.now(UTC), report, commit_each=True)
        return report

    def consider_batch(
        self, session: Session, tickets: list[Ticket], now: datetime, report: EngineReport, *, commit_each: bool
    ) -> None:
        """Consider each ticket in turn, adding what it gives to ``report``; commits after each only if asked."""
        # Encoding in one batch is many times faster than ticket by ticket; only unseen versions need it.
        self.signal_source.prepare(needs_signals(session, tickets))
        for ticket in tickets:
            outcome, row = self.consider(session, ticket, now)
            if commit_each:
                session.commit()
            report.outcomes[outcome] += 1
            if row is not None and row.id is not None:
                report.decisions.append(row.id)


# Tickets claimed (and decided in one transaction) at a time: large enough that a batch's encoding pays off,
# small enough that several workers share a backlog evenly and a killed worker's batch is soon redone.
DECIDE_BATCH = 50


def decide_pending(
    store: Store,
    engine: Engine,
    now: datetime,
    *,
    batch: int = DECIDE_BATCH,
    stop: Callable[[], bool] = lambda: False,
) -> EngineReport:
    """Triage (and decide where needed) every ticket of the engine's connector waiting for it, a claimed batch
    at a time, until none is left or ``stop()`` says so.

    A batch is claimed with SKIP LOCKED, decided and marked triaged in one transaction: other workers take
    other batches meanwhile, and a worker killed mid-batch leaves nothing behind (its transaction and row locks
    die with its connection), so the batch is claimed again by whoever comes next.
    """
    report = EngineReport()
    while not stop():
        with store.session() as session:
            claimed = claim_pending(session, engine.connector, batch)
            if not claimed:
                session.rollback()
                break
            engine.consider_batch(session, [to_record(row) for row in claimed], now, report, commit_each=False)
            mark_triaged(session, [row.id for row in claimed if row.id is not None])
            session.commit()
    return report


def neighbour_subjects(session: Session, source: str, ids: list[str]) -> dict[str, str]:
    """Subjects of similar past tickets, for the agents' note (ids plain or as ``source:id``)."""
    prefix = f"{source}:"
    plain = {i.removeprefix(prefix): i for i in ids}
    if not ids:
        return {}
    rows = session.exec(
        select(TicketRow.external_id, TicketRow.subject).where(
            TicketRow.source == source, col(TicketRow.external_id).in_(list(plain))
        )
    ).all()
    return {plain[external_id]: subject for external_id, subject in rows}
