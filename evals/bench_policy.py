"""Benchmark of ``policies.decide``: decisions per second for a realistic 30-rule policy on one core.

The policy is generated as YAML and loaded through the real validator. Ticket texts (subject, body,
language, tags, priority) come from the support-tickets dataset when it is present, else from a small
synthetic generator; customers, behaviour features, signals and outreach history are synthetic. A
one-rule policy is run over the same tickets in the same process, interleaved, as the baseline: the ratio
says what the thirty rules cost on top of building a decision at all.

Time is the deciding thread's CPU time (``time.thread_time``) with the process pinned to one core: on a
shared machine the wall clock also counts the time other processes held the core. The wall-clock rate
is reported beside it.
"""

from __future__ import annotations

import csv
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors import Customer, Ticket
from policies import RoutingPolicy, Signals, decide, parse_policy
from policies.outreach import OutreachRecord

TEAMS = (
    "Technical Support", "Product Support", "Customer Service", "IT Support", "Billing and Payments",
    "Returns and Exchanges", "Service Outages and Maintenance", "Sales and Pre-Sales", "Human Resources",
    "General Inquiry",
)  # fmt: skip
EXTRA_TEAMS = ("Kundenservice DE", "Triage")

# Thirty rules covering every kind of condition: text (contains, both regex engines), lists, plans,
# behaviour features, signals with thresholds, time, all/any/not; and every kind of action.
_RULES = r"""
  - name: outage-subject
    when: {ticket.subject: {matches: '\b(outage|down|unavailable|ausfall|störung)\b'}}
    then: [{route: Service Outages and Maintenance}, {set_priority: urgent}, {add_tags: [outage]}]
  - name: outage-tag
    when: {ticket.tags: {contains: [outage, Outage]}}
    then: [{route: Service Outages and Maintenance}, {add_tags: [outage]}]
  - name: security
    when: {ticket.body: {contains: [breach, hacked, phishing, malware]}}
    then: [{route: IT Support}, {set_priority: high}, {add_tags: [security]}]
  - name: billing-subject
    when: {ticket.subject: {matches: '\b(invoice|refund|billing|payment|charged?|rechnung|zahlung)'}}
    then: [{route: Billing and Payments}, {add_tags: [billing]}]
  - name: billing-model
    when: {all: [{signals.intent: Billing and Payments}, {signals.intent_probability: {gte: 0.6}}]}
    then: [{route: Billing and Payments}]
  - name: returns
    when: {ticket.body: {contains: [return, exchange, umtausch, rücksendung]}}
    then: [{route: Returns and Exchanges}, {add_tags: [returns]}]
  - name: sales
    when: {ticket.subject: {contains: [pricing, quote, demo, trial, angebot]}}
    then: [{route: Sales and Pre-Sales}]
  - name: hr
    when: {ticket.subject: {contains: [payroll, vacation, hiring, gehalt]}}
    then: [{route: Human Resources}]
  - name: vip
    when: {customer.plan: [enterprise, vip]}
    then: {set_priority: high, add_tags: [vip]}
  - name: large-account
    when: {customer.plan: pro, customer.attributes.seats: {gt: 50}}
    then: {add_tags: [large-account]}
  - name: churn-save
    when: {all: [{signals.churn_risk: {gte: 0.7}}, {customer.opted_out: false}]}
    then:
      - add_tags: [churn-risk]
      - add_note: "Churn risk {{ signals.churn_risk | percent }} ({{ signals.churn_reasons | join(', ') }})."
      - create_outreach:
          subject: "Can we help, {{ customer.name | default('there', true) }}?"
          template: "We would be glad to call you back about your {{ customer.plan | default('account', true) }}."
  - name: dunning
    when: {signals.churn_reasons: {contains: payment_failed}}
    then: {add_tags: [dunning]}
  - name: german-first-line
    when:
      all:
        - any: [{ticket.language: de}, {signals.language: de}]
        - signals.intent: [Customer Service, General Inquiry]
    then: [{route: Kundenservice DE}, {add_tags: [lang-de]}]
  - name: french
    when: {any: [{ticket.language: fr}, {signals.language: fr}]}
    then: {add_tags: [lang-fr]}
  - name: urgent-model
    when: {signals.urgency: urgent, signals.urgency_probability: {gte: 0.6}}
    then: {set_priority: urgent}
  - name: high-model
    when: {signals.urgency: {gte: high}}
    then: {set_priority: high}
  - name: after-hours
    when: {all: [{time.business_hours: false}, {any: [{signals.urgency: urgent}, {ticket.priority: urgent}]}]}
    then: {assign: on-call, add_tags: [after-hours]}
  - name: weekend
    when: {time.weekday: [sat, sun]}
    then: {add_tags: [weekend]}
  - name: stale
    when: {ticket.age_hours: {gt: 48}, ticket.priority: [high, urgent]}
    then: {add_tags: [stale]}
  - name: phone
    when: {ticket.channel: phone}
    then: {add_tags: [phone]}
  - name: chat-team
    when: {ticket.channel: chat, signals.intent: Customer Service}
    then: {assign: chat-team}
  - name: cancel-intent
    when: {ticket.body: {matches: '\bcancel\w*\b.*\b(subscription|account|contract)\b'}}
    then: {add_tags: [cancel-intent]}
  - name: reply
    when: {ticket.subject: {matches: '^(re|aw|fwd?):'}}
    then: {add_tags: [reply]}
  - name: access
    when:
      all:
        - ticket.body: {contains: [password, login, 2fa, passwort]}
        - signals.intent: [Technical Support, IT Support]
    then: {add_tags: [access]}
  - name: emea
    when: {ticket.custom_fields.region: emea}
    then: {add_tags: [emea]}
  - name: inactive
    when: {customer.features.logins_30d: {lt: 2}}
    then: {add_tags: [inactive]}
  - name: no-plan
    when: {not: {customer.plan: {exists: true}}}
    then: {add_tags: [no-plan]}
  - name: low-confidence
    when: {signals.intent_probability: {gte: 0.5, lt: 0.6}}
    then: {add_tags: [low-confidence]}
  - name: customer-says-urgent
    when:
      any: [{ticket.body: {contains: [asap, urgent, dringend, immediately]}}, {ticket.subject: {matches: '!{2,}'}}]
    then:
      - set_priority: high
      - add_note: "The customer calls this urgent: {{ ticket.subject | truncate(60) }}"
  - name: unrouted-new
    when: {ticket.status: new, ticket.queue: {exists: false}}
    then: {add_tags: [unrouted]}
"""

_HEADER = """
version: 1
name: {name}
timezone: Europe/Berlin
queues:
{queues}
defaults:
  triage_queue: Triage
  min_confidence: 0.45
  queue: General Inquiry
business_hours: {{days: [mon, tue, wed, thu, fri], start: "08:00", end: "18:00"}}
outreach: {{cooldown_hours: 336, daily_cap: 1, quiet_hours: {{start: "20:00", end: "08:00"}}}}
rules:
"""

_BASELINE_RULES = """
  - name: vip
    when: {customer.plan: enterprise}
    then: {set_priority: high}
"""


def bench_policy_yaml(rules: int = 30, name: str = "bench") -> str:
    """The benchmark policy as YAML: the first ``rules`` of the thirty rules above."""
    queues = "\n".join(f"  {team}: {{rt: {team}, file: {team}}}" for team in (*TEAMS, *EXTRA_TEAMS))
    blocks = _RULES.strip("\n").split("\n  - name: ")
    chosen = [blocks[0].removeprefix("  - name: "), *blocks[1:]][:rules]
    body = "".join(f"  - name: {block}\n" for block in chosen)
    return _HEADER.format(name=name, queues=queues) + body


def baseline_policy_yaml() -> str:
    """One rule over the same queues: what a decision costs with (almost) no rules."""
    queues = "\n".join(f"  {team}: {{rt: {team}, file: {team}}}" for team in (*TEAMS, *EXTRA_TEAMS))
    return _HEADER.format(name="baseline", queues=queues) + _BASELINE_RULES.lstrip("\n")


_SUBJECTS = (
    "Invoice {n} shows the wrong amount", "Login fails after update", "Dashboard down since this morning",
    "Question about pricing for {n} seats", "Re: refund for order {n}", "Rechnung {n} ist falsch",
    "Störung im Kundenportal", "How do I export reports?", "Payroll export missing", "Need help ASAP!!",
    "Problème de connexion", "Feature request: dark mode", "Cancel my subscription", "Printer not found",
    "Data sync error {n}", "Frage zu meinem Vertrag", "Security warning on my account", "",
)  # fmt: skip
_SENTENCES = (
    "Since the last update our team cannot log in to the web app.",
    "We were charged twice for the same invoice this month and need a refund.",
    "The integration with our CRM stopped syncing contacts yesterday evening.",
    "Could you please tell me which plan includes single sign-on and audit logs?",
    "Seit dem letzten Update funktioniert die Anmeldung nicht mehr.",
    "Bitte prüfen Sie die Abbuchung vom 3. des Monats, sie erscheint doppelt.",
    "I would like to cancel my subscription at the end of the contract term.",
    "The reset password e-mail never arrives, we checked the spam folder.",
    "Our users report that the dashboard shows an error 502 intermittently.",
    "Nous avons besoin d'une facture corrigée pour notre comptabilité.",
    "We suspect a phishing attempt using your logo, please advise.",
    "Is it possible to exchange the device for a different model?",
    "Please treat this as urgent, our month-end closing depends on it.",
    "Thank you for your help so far, the workaround works for now.",
    "The mobile app crashes when uploading attachments larger than 10 MB.",
)
_PLANS = ("free", "pro", "business", "enterprise", "vip", None)
_CHANNELS = ("email", "web", "phone", "chat", None)
_LANGUAGES = ("en", "en", "de", "de", "fr", None)
_REASONS = ("payment_failed", "fewer_logins", "support_calls", "downgrade", "low_usage")


@dataclass(frozen=True)
class BenchCase:
    ticket: Ticket
    customer: Customer | None
    signals: Signals
    now: datetime
    history: tuple[OutreachRecord, ...]


@dataclass(frozen=True)
class _Text:
    subject: str
    body: str
    language: str | None
    tags: list[str]
    priority: str | None
    queue: str | None


def _dataset_texts(path: Path, limit: int = 5000) -> list[_Text]:
    texts = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            priority = {"low": "low", "medium": "normal", "high": "high"}.get((row.get("priority") or "").lower())
            texts.append(
                _Text(
                    subject=row.get("subject") or "",
                    body=row.get("body") or "",
                    language=row.get("language") or None,
                    tags=[t for t in (row.get("tags") or "").split(";") if t],
                    priority=priority,
                    queue=row.get("queue") or None,
                )
            )
            if len(texts) >= limit:
                break
    return texts


def _synthetic_text(rng: random.Random) -> _Text:
    return _Text(
        subject=rng.choice(_SUBJECTS).format(n=rng.randint(100, 99999)),
        body=" ".join(rng.sample(_SENTENCES, rng.randint(2, 6))),
        language=rng.choice(_LANGUAGES),
        tags=rng.sample(["Outage", "Bug", "Billing", "Feedback", "Security", "Login"], rng.randint(0, 3)),
        priority=rng.choice(("low", "normal", "high", "urgent", None)),
        queue=rng.choice(TEAMS),
    )


def default_dataset() -> Path | None:
    """The development copy of the support-tickets dataset beside the repository, when present."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "support-tickets" / "tickets-en-de.csv"
    return path if path.is_file() else None


def make_cases(n: int, seed: int = 7, dataset: Path | None = None) -> list[BenchCase]:
    """``n`` deterministic tickets with customers, signals and outreach history.

    With ``dataset`` (tickets-en-de.csv of the support-tickets dataset) the ticket texts are real ones,
    cycled in file order; the predicted intent is the ticket's own queue half of the time.
    """
    rng = random.Random(seed)
    texts = _dataset_texts(dataset) if dataset is not None else []
    start = datetime(2025, 1, 6, tzinfo=UTC)
    cases = []
    for i in range(n):
        now = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 28))
        created = now - timedelta(hours=rng.choice((0.1, 2, 8, 30, 70)))
        text = texts[i % len(texts)] if texts else _synthetic_text(rng)
        ticket = Ticket(
            source="bench",
            external_id=f"T{i}",
            subject=text.subject,
            body=text.body,
            channel=rng.choice(_CHANNELS),
            language=text.language,
            tags=text.tags,
            priority=text.priority,
            custom_fields={"region": rng.choice(("emea", "amer", "apac"))},
            created_at=created,
            updated_at=now,
        )
        plan = rng.choice(_PLANS)
        customer = None
        if rng.random() < 0.85:
            customer = Customer(
                source="bench",
                external_id=f"C{rng.randrange(n // 3 + 1)}",
                name=rng.choice(("Ada", "Bea", "Chen", None)),
                attributes={"plan": plan, "seats": rng.randint(1, 400)} if plan else {},
                opted_out=rng.random() < 0.1,
            )
        # A calibrated model's top probability: mostly confident, sometimes not (abstains below 0.45).
        top = rng.betavariate(4, 2.5)
        second = rng.uniform(0, 1 - top)
        probabilities = [top, second, rng.uniform(0, 1 - top - second)]
        intents = rng.sample(TEAMS, 3)
        if text.queue in TEAMS and rng.random() < 0.5:
            intents = [text.queue, *(t for t in intents if t != text.queue)][:3]
        has_model = rng.random() < 0.9
        signals = Signals(
            intent=intents[0] if has_model else None,
            intent_probability=round(probabilities[0], 3) if has_model else None,
            intent_top_k=[{"label": t, "probability": round(p, 3)} for t, p in zip(intents, probabilities, strict=True)]
            if has_model
            else [],
            urgency=rng.choice(("low", "normal", "high", "urgent")) if has_model else None,
            urgency_probability=round(rng.uniform(0.3, 0.95), 3) if has_model else None,
            churn_risk=round(rng.betavariate(1.5, 4), 3) if customer else None,
            churn_reasons=rng.sample(_REASONS, rng.randint(0, 2)) if customer else [],
            language=text.language,
            abstain=rng.random() < 0.05,
            features={"logins_30d": rng.randint(0, 40)} if customer else {},
        )
        history = tuple(
            OutreachRecord(sent_at=now - timedelta(days=rng.randint(1, 30)), customer_external_id=customer.external_id)
            for _ in range(rng.randint(0, 2))
            if customer
        )
        cases.append(BenchCase(ticket, customer, signals, now, history))
    return cases


@dataclass
class PolicyBenchResult:
    """Medians over repeats; ``ratio``: time per decision of the benchmark policy over the baseline's."""

    rules: int
    decisions_per_repeat: int
    repeats: int
    decisions_per_second: float
    microseconds_per_decision: float
    wall_decisions_per_second: float
    baseline_decisions_per_second: float
    ratio_to_baseline: float
    rates: list[float] = field(default_factory=list)
    baseline_rates: list[float] = field(default_factory=list)
    mean_rules_fired: float = 0.0
    share_with_note: float = 0.0
    share_abstained: float = 0.0
    policy_version: str = ""
    ticket_texts: str = "synthetic"
    reference_loop_us: float = 0.0
    cpu_affinity: list[int] = field(default_factory=list)
    python: str = ""
    machine: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pin_to_one_core() -> list[int]:
    """Run on one core, as the figure claims; where the OS cannot, say which cores were allowed."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {allowed[-1]})
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - macOS/Windows
        return []


def _reference_loop_us() -> float:
    """CPU µs of ``sum(range(1000))`` (best of 5 × 2,000): how fast this core runs Python right now.

    A shared machine can be several times slower than an idle one; this puts the figures in proportion.
    """
    best = float("inf")
    for _ in range(5):
        started = time.thread_time()
        for _ in range(2000):
            sum(range(1000))
        best = min(best, (time.thread_time() - started) / 2000 * 1e6)
    return best


def _run(policy: RoutingPolicy, cases: list[BenchCase]) -> tuple[float, float]:
    """CPU seconds and wall seconds to decide every case.

    Each decision is dropped once made, as the running agent does after storing it: keeping thousands
    alive would make the timing mostly about the garbage collector walking them.
    """
    cpu, wall = time.thread_time(), time.perf_counter()
    for c in cases:
        decide(policy, c.ticket, c.customer, c.signals, c.now, c.history)
    return time.thread_time() - cpu, time.perf_counter() - wall


def run_policy_benchmark(
    decisions: int = 2000,
    repeats: int = 7,
    rules: int = 30,
    seed: int = 7,
    dataset: Path | None = None,
    on_repeat: Callable[[], None] | None = None,
) -> PolicyBenchResult:
    """Time ``decide`` over ``decisions`` tickets, ``repeats`` times, against the one-rule baseline.

    ``dataset``: tickets-en-de.csv for real ticket texts; None for synthetic ones.
    """
    cores = _pin_to_one_core()
    policy = parse_policy(bench_policy_yaml(rules), "bench-policy.yaml")
    baseline = parse_policy(baseline_policy_yaml(), "baseline-policy.yaml")
    cases = make_cases(decisions, seed, dataset)
    # Warm-up (DFA caches, template code paths), keeping the decisions once to describe the workload.
    written = [decide(policy, c.ticket, c.customer, c.signals, c.now, c.history) for c in cases]
    fired = statistics.fmean(sum(1 for t in d.trace if t.fired and not t.rule.startswith("(")) for d in written)
    with_note = sum(1 for d in written if d.action("add_note")) / len(written)
    abstained = sum(1 for d in written if d.abstained) / len(written)
    del written
    _run(baseline, cases)
    rates: list[float] = []
    wall_rates: list[float] = []
    baseline_rates: list[float] = []
    for _ in range(repeats):
        cpu, wall = _run(policy, cases)
        rates.append(decisions / cpu)
        wall_rates.append(decisions / wall)
        cpu, _ = _run(baseline, cases)
        baseline_rates.append(decisions / cpu)
        if on_repeat is not None:
            on_repeat()
    rate = statistics.median(rates)
    base = statistics.median(baseline_rates)
    reference = _reference_loop_us()
    return PolicyBenchResult(
        rules=len(policy.rules),
        decisions_per_repeat=decisions,
        repeats=repeats,
        decisions_per_second=round(rate, 1),
        microseconds_per_decision=round(1e6 / rate, 1),
        wall_decisions_per_second=round(statistics.median(wall_rates), 1),
        baseline_decisions_per_second=round(base, 1),
        ratio_to_baseline=round(base / rate, 2),
        rates=[round(r, 1) for r in rates],
        baseline_rates=[round(r, 1) for r in baseline_rates],
        mean_rules_fired=round(fired, 2),
        share_with_note=round(with_note, 3),
        share_abstained=round(abstained, 3),
        policy_version=policy.version,
        ticket_texts=str(dataset) if dataset is not None else "synthetic",
        reference_loop_us=round(reference, 2),
        cpu_affinity=cores,
        python=platform.python_version(),
        machine=platform.machine(),
    )
