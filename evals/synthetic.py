"""Synthetic customers, product events, satisfaction ratings and ticket histories, with a known churn process.

No shared dataset joins tickets to customers, so tests and the demo use this seeded generator. It is a fixture
and a demonstration, never a source of reported accuracy: the process below is ours, so a model that learns it
proves only that the plumbing works.

The process, simulated day by day for each customer from sign-up until cancellation or the end:

- **Customer**: plan basic / pro / enterprise (60 / 30 / 10 %), monthly revenue (MRR) 29 / 99 / 499 times a
  log-normal factor (sigma 0.25), a sign-up day in the first half of the period, and a temper
  (log-normal, sigma 0.5) that scales how much problems frustrate them. 10 % have opted out of outreach.
- **Frustration** f (hidden): each day ``f = 0.99 f``, plus ``temper * bump`` on a day with a product incident
  (probability 0.02; minor / major / outage with 60 / 30 / 10 %, bumps 0.5 / 1.0 / 2.0), plus 0.4 after each bad
  satisfaction rating.
- **Usage**: logins ~ Poisson(rate * exp(-0.8 f)) with rate 0.3 / 0.6 / 1.0 per day by plan, and feature
  use at half that rate: frustrated customers drift away before they leave.
- **Tickets**: an incident opens a ticket (probability 0.9); otherwise a question arrives with probability
  ``0.006 + 0.02 min(f, 3)`` (how-to, billing or account). Frustrated customers chase open tickets with
  replies (daily probability ``0.1 min(f, 3)``). Tickets are solved after ~1.5 days (+2 for major problems
  and outages); then a rating follows with probability 0.5, bad with probability ``sigmoid(2.5 (f - 1.2))``.
  A frustrated customer's solved ticket is reopened (tag ``reopened``) with probability 0.3.
- **Billing**: a ``purchase`` event every 30 days; the payment fails instead with probability 0.04 (basic) or
  0.02, and is retried the next day (success 0.7). Pro and enterprise customers with f > 1 may reduce seats
  (``downgrade``, daily probability ``0.003 f``); calm basic/pro customers sometimes ``upgrade``.
- **Churn** (the known process): the daily log-odds of cancelling are
  ``-8 + 1.2 min(f, 5) + 1.5 [a payment failed in the last 14 days and was not recovered]
  - 0.8 [enterprise]``; a ``cancellation`` event ends the customer's activity.
- **Ticket text and priority**: the words follow the topic (15 % of tickets use vague words that hide it)
  and the tone follows frustration (calm, annoyed, angry; an angry customer may say it is a repeat
  contact). The agents' priority (``Ticket.priority``) is the support policy's: outage → urgent, major
  bug → high, minor bug and billing → normal, how-to and account → low; one level higher when the customer is
  high-value (MRR ≥ 100) and at risk (f ≥ 1.2, or another ticket in the previous 7 days); and 10 % of labels
  moved one level by agents' disagreement. So the text alone cannot tell the whole priority.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlmodel import Session

from connectors import BehaviorEvent, Comment, Customer, CustomerHistory, Priority, SatisfactionRating, Ticket
from router.store import upsert

PLANS = ("basic", "pro", "enterprise")
HIGH_VALUE_MRR = 100.0
_PLAN_SHARE = (0.6, 0.3, 0.1)
_PLAN_MRR = {"basic": 29.0, "pro": 99.0, "enterprise": 499.0}
_LOGIN_RATE = {"basic": 0.3, "pro": 0.6, "enterprise": 1.0}
_LEVELS: tuple[Priority, ...] = ("low", "normal", "high", "urgent")
_BASE_PRIORITY: dict[str, Priority] = {
    "outage": "urgent",
    "major": "high",
    "minor": "normal",
    "billing": "normal",
    "how-to": "low",
    "account": "low",
}

_SUBJECTS: dict[str, list[str]] = {
    "outage": ["Service down", "Cannot reach the dashboard", "Everything is failing", "Site not loading"],
    "major": ["Data export broken", "Sync stopped working", "Integration failing", "Reports are wrong"],
    "minor": ["Small display glitch", "Button misaligned", "Typo in a report", "Slow page"],
    "billing": ["Question about my invoice", "Charged twice?", "Update billing address", "Invoice copy"],
    "how-to": ["How do I add a user", "Where is the export setting", "How to change my password", "Setup help"],
    "account": ["Change account e-mail", "Rename our workspace", "Add a colleague", "Update company name"],
}
_BODIES: dict[str, list[str]] = {
    "outage": [
        "none of our users can log in and production is down",
        "the whole service returns errors for all our staff",
        "nothing loads at all, our team is completely blocked",
    ],
    "major": [
        "the nightly export fails with an error and our data is missing",
        "the sync with our CRM stopped and records are lost",
        "the integration crashes every time we run it",
    ],
    "minor": [
        "a label on the settings page overlaps another one",
        "the report shows a small typo in the header",
        "one page is a bit slow to load in the afternoon",
    ],
    "billing": [
        "our last invoice looks different from the usual amount",
        "we may have been charged twice this month",
        "please send the invoice to our new billing address",
    ],
    "how-to": [
        "could you explain how to invite a new user to our team",
        "where can I find the setting for scheduled exports",
        "what is the best way to set up notifications",
    ],
    "account": [
        "please change the e-mail address on our account",
        "we would like to rename our workspace",
        "please add a colleague as an administrator",
    ],
}
_VAGUE = ["Problem with my account", "Please help", "Issue", "Question"]
_VAGUE_BODY = ["something is not right, can you have a look", "we need help with this, thanks"]
_TONE = {
    "calm": ["Thanks in advance.", "No rush.", "Kind regards.", "Thank you for your help."],
    "annoyed": ["This is getting frustrating.", "Please look into this soon.", "Not happy about this."],
    "angry": [
        "This is unacceptable, fix it now!",
        "We are seriously considering cancelling.",
        "I expect an answer today!!",
        "Your service keeps failing us.",
    ],
}
_REPEAT = ["This is the third time I am writing about this.", "I already reported this and nothing happened."]
_FOLLOW_UPS = ["Any update on this?", "Still not fixed!", "Hello? We are still waiting.", "Please answer."]


@dataclass
class SyntheticWorld:
    """A generated helpdesk: records for the store, plus the ground truth behind them."""

    source: str
    start: datetime
    end: datetime
    customers: list[Customer] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    ratings: list[SatisfactionRating] = field(default_factory=list)
    events: list[BehaviorEvent] = field(default_factory=list)
    churned_at: dict[str, datetime] = field(default_factory=dict)
    frustration_at_ticket: dict[str, float] = field(default_factory=dict)
    # Tickets whose priority the support policy raised because a high-value customer was at risk.
    raised_for_customer: set[str] = field(default_factory=set)

    def histories(self) -> dict[str, CustomerHistory]:
        """Each customer's history, keyed by customer id (what ``load_histories`` returns from a store)."""
        tickets: dict[str, list[Ticket]] = defaultdict(list)
        for t in self.tickets:
            tickets[t.requester or ""].append(t)
        owner = {t.external_id: t.requester or "" for t in self.tickets}
        comments: dict[str, list[Comment]] = defaultdict(list)
        for c in self.comments:
            comments[owner[c.ticket_external_id]].append(c)
        ratings: dict[str, list[SatisfactionRating]] = defaultdict(list)
        for r in self.ratings:
            ratings[r.customer_external_id].append(r)
        events: dict[str, list[BehaviorEvent]] = defaultdict(list)
        for e in self.events:
            events[e.customer_external_id].append(e)
        return {
            c.external_id: CustomerHistory(
                c,
                tuple(tickets[c.external_id]),
                tuple(comments[c.external_id]),
                tuple(ratings[c.external_id]),
                tuple(events[c.external_id]),
            )
            for c in self.customers
        }

    def store(self, session: Session) -> None:
        """Write every record into the store (idempotent: upserts by source and id)."""
        for records in (self.customers, self.tickets, self.comments, self.ratings, self.events):
            upsert(session, records)
        session.commit()


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class _Simulation:
    def __init__(self, world: SyntheticWorld, rng: np.random.Generator):
        self.world = world
        self.rng = rng
        self.n_events = 0
        self.n_comments = 0

    def pick(self, options: list[str]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def event(self, cid: str, kind: str, when: datetime, **properties: object) -> None:
        self.n_events += 1
        self.world.events.append(
            BehaviorEvent(
                source=self.world.source,
                external_id=f"e{self.n_events}",
                customer_external_id=cid,
                kind=kind,
                occurred_at=when,
                properties=dict(properties),
            )
        )

    def comment(self, ticket_id: str, when: datetime, body: str, from_customer: bool, author: str) -> None:
        self.n_comments += 1
        self.world.comments.append(
            Comment(
                source=self.world.source,
                external_id=f"c{self.n_comments}",
                ticket_external_id=ticket_id,
                author=author,
                author_is_customer=from_customer,
                body=body,
                created_at=when,
            )
        )

    def text(self, topic: str, frustration: float, repeat: bool) -> tuple[str, str]:
        vague = self.rng.random() < 0.15
        subject = self.pick(_VAGUE if vague else _SUBJECTS[topic])
        body = self.pick(_VAGUE_BODY if vague else _BODIES[topic])
        tone = "calm" if frustration < 0.8 else ("annoyed" if frustration < 1.8 else "angry")
        # Tone leaks through only most of the time: some angry customers write politely, and vice versa.
        if self.rng.random() < 0.25:
            tone = self.pick(["calm", "annoyed", "angry"])
        closing = self.pick(_TONE[tone])
        if repeat and tone != "calm" and self.rng.random() < 0.6:
            closing = f"{self.pick(_REPEAT)} {closing}"
        return subject, f"Hello, {body}. {closing}"

    def customer(self, index: int, signup: datetime, end: datetime) -> None:
        rng, world = self.rng, self.world
        cid = f"cust-{index:04d}"
        plan = PLANS[int(rng.choice(3, p=_PLAN_SHARE))]
        mrr = round(_PLAN_MRR[plan] * float(np.exp(rng.normal(0.0, 0.25))), 2)
        temper = float(np.exp(rng.normal(0.0, 0.5)))
        world.customers.append(
            Customer(
                source=world.source,
                external_id=cid,
                email=f"{cid}@example.com",
                name=f"Customer {index}",
                organization=f"Org {index % 97}",
                attributes={"plan": plan, "mrr": mrr},
                opted_out=bool(rng.random() < 0.1),
                created_at=signup,
            )
        )
        frustration = 0.0
        rate = _LOGIN_RATE[plan]
        open_tickets: list[tuple[str, datetime]] = []  # (ticket id, solved at)
        ticket_days: list[datetime] = []
        failed_unrecovered: datetime | None = None
        day = signup
        n_ticket = 0
        while day + timedelta(days=1) <= end:  # whole days only: nothing happens after ``end``
            # Churn, decided first so that nothing follows a cancellation on its day.
            failing = failed_unrecovered is not None and day - failed_unrecovered <= timedelta(days=14)
            logit = -8.0 + 1.2 * min(frustration, 5.0) + 1.5 * failing - 0.8 * (plan == "enterprise")
            if rng.random() < _sigmoid(logit):
                when = day + timedelta(hours=float(rng.uniform(6, 20)))
                self.event(cid, "cancellation", when)
                world.churned_at[cid] = when
                # Ratings were drawn when their tickets opened; a customer who left rates nothing afterwards.
                world.ratings = [r for r in world.ratings if r.customer_external_id != cid or r.created_at <= when]
                return
            noon = day + timedelta(hours=12)
            frustration *= 0.99
            incident = None
            if rng.random() < 0.02:
                incident = str(rng.choice(["minor", "major", "outage"], p=[0.6, 0.3, 0.1]))
                frustration += temper * {"minor": 0.5, "major": 1.0, "outage": 2.0}[incident]
            usage = float(np.exp(-0.8 * frustration))
            for _ in range(int(rng.poisson(rate * usage))):
                self.event(cid, "login", day + timedelta(hours=float(rng.uniform(7, 20))))
            for _ in range(int(rng.poisson(0.5 * rate * usage))):
                self.event(cid, "feature_use", day + timedelta(hours=float(rng.uniform(7, 20))))

            # Billing every 30 days from sign-up.
            if (day - signup).days % 30 == 29:
                if rng.random() < (0.04 if plan == "basic" else 0.02):
                    self.event(cid, "payment_failed", noon, amount=mrr)
                    failed_unrecovered = noon
                else:
                    self.event(cid, "purchase", noon, amount=mrr)
            elif failed_unrecovered is not None and (day - failed_unrecovered).days == 0 and rng.random() < 0.7:
                self.event(cid, "purchase", noon + timedelta(hours=6), amount=mrr, retry=True)
                failed_unrecovered = None
            if plan != "basic" and frustration > 1 and rng.random() < 0.003 * frustration:
                self.event(cid, "downgrade", noon, seats=-1)
            elif plan != "enterprise" and frustration < 0.3 and rng.random() < 0.002:
                self.event(cid, "upgrade", noon, seats=1)

            # New ticket?
            topic = None
            if incident is not None and rng.random() < 0.9:
                topic = incident
            elif rng.random() < 0.006 + 0.02 * min(frustration, 3.0):
                topic = str(rng.choice(["how-to", "billing", "account"]))
            if topic is not None:
                n_ticket += 1
                created = day + timedelta(hours=float(rng.uniform(6, 22)))
                recent = sum(1 for t in ticket_days if created - t <= timedelta(days=7))
                ticket_days.append(created)
                tid = f"{cid}-t{n_ticket}"
                level = _LEVELS.index(_BASE_PRIORITY[topic])
                at_risk = frustration >= 1.2 or recent >= 1
                if mrr >= HIGH_VALUE_MRR and at_risk:
                    level += 1
                    world.raised_for_customer.add(f"{cid}-t{n_ticket}")
                if rng.random() < 0.1:
                    level += 1 if rng.random() < 0.5 else -1
                priority = _LEVELS[min(max(level, 0), 3)]
                subject, body = self.text(topic, frustration, recent >= 1)
                solve_days = float(rng.exponential(1.5)) + (2.0 if topic in ("major", "outage") else 0.0)
                solved = created + timedelta(days=solve_days)
                tags = [topic]
                if frustration > 1.5 and rng.random() < 0.3:
                    tags.append("reopened")
                    solved += timedelta(days=2)
                if plan == "enterprise" and priority == "urgent":
                    tags.append("escalated")
                finished = solved <= end
                world.tickets.append(
                    Ticket(
                        source=world.source,
                        external_id=tid,
                        subject=subject,
                        body=body,
                        requester=cid,
                        channel=self.pick(["email", "web"]),
                        status="solved" if finished else "open",
                        priority=priority,
                        tags=tags,
                        created_at=created,
                        updated_at=solved if finished else created,
                    )
                )
                world.frustration_at_ticket[tid] = round(frustration, 3)
                if created + timedelta(hours=3) <= end:
                    self.comment(tid, created + timedelta(hours=3), "Thanks, we are looking into it.", False, "agent")
                open_tickets.append((tid, solved))
                if solved + timedelta(hours=2) <= end and rng.random() < 0.5:
                    bad = rng.random() < _sigmoid(2.5 * (frustration - 1.2))
                    world.ratings.append(
                        SatisfactionRating(
                            source=world.source,
                            external_id=f"r-{tid}",
                            ticket_external_id=tid,
                            customer_external_id=cid,
                            rating="bad" if bad else "good",
                            score=float(rng.integers(1, 3) if bad else rng.integers(4, 6)),
                            created_at=solved + timedelta(hours=2),
                        )
                    )
                    if bad:
                        frustration += 0.4

            # Chasing open tickets.
            open_tickets = [(tid, solved) for tid, solved in open_tickets if solved > day]
            for tid, _ in open_tickets:
                if rng.random() < 0.1 * min(frustration, 3.0):
                    self.comment(tid, noon + timedelta(hours=2), self.pick(_FOLLOW_UPS), True, cid)
            day += timedelta(days=1)


def generate_world(
    customers: int = 200,
    days: int = 240,
    seed: int = 0,
    source: str = "synthetic",
    start: datetime | None = None,
) -> SyntheticWorld:
    """A seeded synthetic helpdesk of ``customers`` customers over ``days`` days (see the module docstring)."""
    begin = start or datetime(2025, 1, 1, tzinfo=UTC)
    end = begin + timedelta(days=days)
    world = SyntheticWorld(source=source, start=begin, end=end)
    rng = np.random.default_rng(seed)
    simulation = _Simulation(world, rng)
    for index in range(customers):
        signup = begin + timedelta(days=int(rng.integers(0, max(days // 2, 1))), hours=float(rng.uniform(8, 18)))
        simulation.customer(index, signup, end)
    return world


SAME_WORDS = (
    "Data export broken",
    "Hello, the nightly export fails with an error and our data is missing. "
    "This is the third time I am writing about this. Not happy about this.",
)


def ranking_pair(at: datetime, source: str = "synthetic") -> tuple[CustomerHistory, Ticket, CustomerHistory, Ticket]:
    """The same words from two customers at ``at``: a high-value, at-risk repeat contact and a new, small one.

    Customer A (enterprise, MRR 520, a customer for 400 days) wrote 3 tickets in the last 7 days, chased them
    with replies, rated the last one bad and logs in far less than a month ago. Customer B signed up 3 days ago
    on the basic plan (MRR 25) and has no history. A behaviour-aware urgency model should rank A's ticket above
    B's; a text-only model cannot tell them apart.
    """
    subject, body = SAME_WORDS

    def ticket(cid: str, tid: str, when: datetime, **extra: object) -> Ticket:
        return Ticket.model_validate(
            {
                "source": source,
                "external_id": tid,
                "subject": subject,
                "body": body,
                "requester": cid,
                "created_at": when,
                "updated_at": when,
                **extra,
            }
        )

    a = Customer(
        source=source,
        external_id="demo-high-value",
        attributes={"plan": "enterprise", "mrr": 520.0},
        created_at=at - timedelta(days=400),
    )
    past = [
        ticket(
            a.external_id,
            f"demo-a-{k}",
            at - timedelta(days=d),
            status="solved",
            priority="high",
            tags=["major", "reopened"] if k == 0 else ["major"],
            updated_at=at - timedelta(days=d - 0.5),
        )
        for k, d in enumerate((6, 4, 2))
    ]
    replies = [
        Comment(
            source=source,
            external_id=f"demo-a-reply-{k}",
            ticket_external_id=past[k % 3].external_id,
            author=a.external_id,
            author_is_customer=True,
            body="Still not fixed!",
            created_at=at - timedelta(days=d),
        )
        for k, d in enumerate((5, 3, 1.5, 1))
    ]
    ratings = [
        SatisfactionRating(
            source=source,
            external_id=f"demo-a-rating-{k}",
            ticket_external_id=past[k].external_id,
            customer_external_id=a.external_id,
            rating="bad",
            score=1.0,
            created_at=past[k].updated_at + timedelta(hours=2),
        )
        for k in (0, 2)
    ]
    logins = [
        BehaviorEvent(
            source=source,
            external_id=f"demo-a-login-{k}",
            customer_external_id=a.external_id,
            kind="login",
            occurred_at=at - timedelta(days=d),
        )
        for k, d in enumerate([*range(31, 60), 20, 9])
    ]
    history_a = CustomerHistory(a, tuple(past), tuple(replies), tuple(ratings), tuple(logins))
    b = Customer(
        source=source,
        external_id="demo-new-small",
        attributes={"plan": "basic", "mrr": 25.0},
        created_at=at - timedelta(days=3),
    )
    logins_b = [
        BehaviorEvent(
            source=source,
            external_id=f"demo-b-login-{k}",
            customer_external_id=b.external_id,
            kind="login",
            occurred_at=at - timedelta(days=d),
        )
        for k, d in enumerate((2, 1))
    ]
    history_b = CustomerHistory(b, (), (), (), tuple(logins_b))
    return history_a, ticket(a.external_id, "demo-a-now", at), history_b, ticket(b.external_id, "demo-b-now", at)
