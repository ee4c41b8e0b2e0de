"""The engine: for each pulled ticket that needs a decision, signals -> policy -> outbox, in one transaction.

Which tickets need a decision (``triage``):
- finished tickets (solved, closed, deleted, merged, spam) never do;
- a ticket version (update time and routed state) already decided does not (the same update seen twice gives
  one decision);
- a change made by deskroute itself (the change's author is the connector's agent user) does not;
- once a person has re-routed a ticket after our decision, deskroute records the correction and leaves the
  ticket alone for good;
- a new ticket does; so does a customer's reply on a ticket no person re-routed, but then only urgency,
  tags and notes may change: the queue stays.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

import sqlalchemy as sa
from sqlmodel import Session, col, select

from connectors import Action, Customer, Ticket
from policies import Decision, OutreachRecord, RoutingPolicy, Signals, decide
from router.loop.agent_note import agent_note, agent_tags
from router.store import to_record
from router.store.decision_log import (
    DecisionRecord,
    corrections,
    decision_for_version,
    latest_decision,
    outbox_for_decision,
    outreach_times,
    record_correction,
    save_decision,
    withdraw_ticket_writes,
)
from router.store.tables import CustomerRow, DecisionRow, TicketRow

Outcome = Literal[
    "decided_new",
    "decided_reply",
    "skipped_finished",
    "skipped_seen",
    "skipped_own_change",
    "skipped_person_owns",
    "skipped_other_change",
    "correction",
]
# On a customer's reply the routing stays where it is: only these may change.
REPLY_KINDS = frozenset({"set_priority", "add_tags", "add_note", "create_outreach"})


class SignalSource(Protocol):
    """What the models say about a ticket (rules-only policies use :class:`NoSignals`)."""

    def signals(self, session: Session, ticket: Ticket, customer: Customer | None, now: datetime) -> Signals: ...


class NoSignals:
    """No models: the policy runs on its rules alone."""

    def signals(self, session: Session, ticket: Ticket, customer: Customer | None, now: datetime) -> Signals:
        return Signals()


@dataclass
class EngineReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    decisions: list[int] = field(default_factory=list)

    @property
    def decided(self) -> int:
        return self.outcomes["decided_new"] + self.outcomes["decided_reply"]


def ticket_version(ticket: Ticket) -> str:
    """The update time plus a digest of the state a person could change.

    Helpdesk clocks count whole seconds (RT's ``LastUpdated``), so a person's re-routing in the same second as
    the version deskroute decided on would otherwise look like that version seen again, and the writes still
    queued for the ticket would undo the person's change.
    """
    state = [
        ticket.status,
        ticket.priority,
        ticket.priority_raw,
        ticket.queue,
        ticket.assignee,
        sorted(ticket.tags),
        ticket.updated_by,
        ticket.subject,
        ticket.body,
    ]
    digest = hashlib.sha256(json.dumps(state, ensure_ascii=False).encode()).hexdigest()[:12]
    return f"{ticket.updated_at.astimezone(UTC).isoformat()}#{digest}"


def find_customer(session: Session, ticket: Ticket) -> Customer | None:
    """The ticket's requester as a stored customer, by external id or e-mail within the same source."""
    if not ticket.requester:
        return None
    row = session.exec(
        select(CustomerRow).where(
            CustomerRow.source == ticket.source,
            sa.or_(col(CustomerRow.external_id) == ticket.requester, col(CustomerRow.email) == ticket.requester),
        )
    ).first()
    return to_record(row) if row else None


def _is_customer(ticket: Ticket, customer: Customer | None, who: str | None) -> bool:
    if not who:
        return False
    names = [ticket.requester] + ([customer.email, customer.external_id] if customer else [])
    return who.lower() in {n.lower() for n in names if n}


def _routed_by_us(session: Session, prior: DecisionRow) -> bool:
    assert prior.id is not None
    return any(r.kind == "route" and r.state == "applied" for r in outbox_for_decision(session, prior.id))


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

    def triage(
        self, session: Session, ticket: Ticket, customer: Customer | None, now: datetime
    ) -> tuple[Outcome, DecisionRow | None]:
        """Whether (and why) this ticket version needs a decision; records a person's correction."""
        if ticket.finished:
            return "skipped_finished", None
        if decision_for_version(session, ticket.source, ticket.external_id, ticket_version(ticket)):
            return "skipped_seen", None
        if self.agent_user and ticket.updated_by and ticket.updated_by.lower() == self.agent_user:
            return "skipped_own_change", None
        prior = latest_decision(session, ticket.source, ticket.external_id)
        if prior is None:
            return "decided_new", None
        if corrections(session, ticket.source, ticket.external_id):
            return "skipped_person_owns", prior
        # The queue we left the ticket in: ours if we routed it, else where it was when we decided.
        expected = prior.queue if _routed_by_us(session, prior) else prior.ticket_queue
        if ticket.queue != expected and not _is_customer(ticket, customer, ticket.updated_by):
            if ticket.queue != prior.queue:
                record_correction(
                    session,
                    prior,
                    field="queue",
                    predicted=prior.queue,
                    corrected=ticket.queue,
                    corrected_by=ticket.updated_by,
                    now=now,
                )
                self._hand_over(session, ticket)
                return "correction", prior
            # A person moved it where we suggested: agreement, and from now on it is theirs.
            record_correction(
                session,
                prior,
                field="queue_confirmed",
                predicted=prior.queue,
                corrected=ticket.queue,
                corrected_by=ticket.updated_by,
                now=now,
            )
            self._hand_over(session, ticket)
            return "skipped_person_owns", prior
        if _is_customer(ticket, customer, ticket.updated_by):
            return "decided_reply", prior
        return "skipped_other_change", prior

    def _hand_over(self, session: Session, ticket: Ticket) -> None:
        # The ticket is the person's now: writes still queued for it must not undo their routing.
        who = ticket.updated_by or "a person"
        withdraw_ticket_writes(
            session, ticket.source, ticket.external_id, f"withdrawn: {who} routed the ticket by hand"
        )

    def consider(self, session: Session, ticket: Ticket, now: datetime) -> tuple[Outcome, DecisionRow | None]:
        """Decide for one ticket if it needs it; adds the decision and its outbox rows to the session."""
        customer = find_customer(session, ticket)
        outcome, _prior = self.triage(session, ticket, customer, now)
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
        row = save_decision(session, self._record(ticket, signals, decision, outcome, similar), now)
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

    def _record(
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
        when = now or datetime.now(UTC)
        tickets = list(tickets)
        prepare = getattr(self.signal_source, "prepare", None)
        if prepare is not None:
            # Encoding in one batch is many times faster than ticket by ticket; only unseen versions need it.
            prepare(
                [
                    t
                    for t in tickets
                    if not t.finished
                    and decision_for_version(session, t.source, t.external_id, ticket_version(t)) is None
                ]
            )
        for ticket in tickets:
            outcome, row = self.consider(session, ticket, when)
            session.commit()
            report.outcomes[outcome] += 1
            if row is not None and row.id is not None:
                report.decisions.append(row.id)
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


def open_tickets(session: Session, source: str) -> list[Ticket]:
    """The connector's stored tickets that could still need a decision, oldest change first."""
    from connectors import FINISHED_STATUSES

    rows = session.exec(
        select(TicketRow)
        .where(TicketRow.source == source, sa.not_(TicketRow.status.in_(FINISHED_STATUSES)))  # type: ignore[attr-defined]
        .order_by(TicketRow.updated_at)  # type: ignore[arg-type]
    ).all()
    return [to_record(r) for r in rows]
