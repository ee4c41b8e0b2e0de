"""``decide()``: a pure function from a ticket and what the models say to the actions a policy chooses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from connectors import Action, Customer, Ticket, as_utc
from policies.conditions import failure_reason
from policies.fields import Facts
from policies.figures import distinct_figures
from policies.moments import moment_of_deciding
from policies.outreach import OutreachRecord, outreach_refusal
from policies.routing_policy import (
    AddNote,
    AddTags,
    AssignTo,
    CreateOutreach,
    RouteTo,
    RoutingPolicy,
    SetPriority,
)
from policies.templates import MAX_NOTE_LENGTH, NoteTemplate, TemplateRenderError
from policies.ticket_signals import Decision, RuleTrace, Signals

_NO_SIGNALS = Signals()
DEFAULT_ABSTAIN_NOTE = NoteTemplate(
    "deskroute did not choose a queue for this ticket: {{ explanation.abstain_reason }}. "
    "It was sent to {{ decision.queue }} for a person to route."
)


def default_scope(ticket: Ticket, policy: RoutingPolicy) -> str:
    """Idempotency scope of a decision: the ticket's version and the policy's version.

    Deciding the same ticket version with the same policy again yields the same action keys, so the
    outbox applies each action once; a new ticket version or policy version is a new decision.
    """
    return f"{ticket.source}:{ticket.external_id}:{as_utc(ticket.updated_at).isoformat()}:{policy.version}"


def _abstention(policy: RoutingPolicy, signals: Signals) -> tuple[str | None, str | None]:
    if signals.abstain:
        why = signals.abstain_reason or "its confidence was below its own threshold"
        return f"the intent model abstained ({why})", "model"
    p = signals.intent_probability
    if signals.intent is not None and p is not None and p < policy.defaults.min_confidence:
        shown, bound = distinct_figures(p, policy.defaults.min_confidence)
        return (
            f"intent '{signals.intent}' at {shown} is below the policy's min_confidence {bound}",
            "min_confidence",
        )
    return None, None


def _action(kind: str, target: str, params: dict[str, Any], scope: str) -> Action:
    """An action decide() chose, its idempotency key scoped to the decision (see :func:`default_scope`)."""
    action = Action(kind=kind, target=target, params=params)
    return action.model_copy(update={"idempotency_key": action.default_key(scope)})


def decide(
    policy: RoutingPolicy,
    ticket: Ticket,
    customer: Customer | None,
    signals: Signals | None,
    now: datetime,
    outreach_history: Sequence[OutreachRecord | datetime] = (),
    *,
    decision_scope: str | None = None,
) -> Decision:
    """Run ``policy`` over one ticket and return the actions with the trace of every rule.

    Pure and deterministic: no I/O and no clock (``now`` is the moment of deciding; a naive ``now`` is
    taken as UTC). ``outreach_history`` lists this customer's past proactive contacts, for the guardrails.
    ``decision_scope`` scopes the actions' idempotency keys; by default the ticket version and policy
    version (:func:`default_scope`). A ``now`` within a day of year 1 or year 9999 raises MomentError
    (:func:`moment_of_deciding`).
    """
    now = moment_of_deciding(now)
    signals = signals if signals is not None else _NO_SIGNALS
    defaults = policy.defaults
    local_now = now.astimezone(policy.timezone)
    intent_team = policy.team_for_intent(signals.intent)
    hours = policy.business_hours
    abstain_reason, abstain_source = _abstention(policy, signals)
    intent: str | None = intent_team or signals.intent
    intent_probability = signals.intent_probability
    absent_notes: dict[str, str] = {}
    if abstain_reason is not None:
        # While deskroute abstains the intent is not trusted: conditions on it are false, and say why.
        intent = intent_probability = None
        note = f"not used: {abstain_reason}"
        absent_notes = {"signals.intent": note, "signals.intent_probability": note}
    facts = Facts(
        ticket=ticket,
        customer=customer,
        signals=signals,
        now=now,
        local_now=local_now,
        business_hours=hours.contains if hours else None,
        intent=intent,
        intent_probability=intent_probability,
        absent_notes=absent_notes,
    )

    queue = priority = assignee = None
    queue_by = priority_by = assignee_by = ""
    tags: list[str] = []
    notes: list[tuple[RuleTrace, AddNote]] = []
    outreach: tuple[RuleTrace, CreateOutreach] | None = None
    trace: list[RuleTrace] = []
    stopped_by = ""

    for rule in policy.rules:
        name = rule.name
        if stopped_by:
            trace.append(
                RuleTrace(rule=name, fired=False, reason=f"not evaluated: rule '{stopped_by}' stops evaluation")
            )
            continue
        if rule.min_confidence is not None:
            p = facts.intent_probability
            if p is None:
                why = facts.absent_notes.get("signals.intent_probability", "no intent model output")
                trace.append(RuleTrace(rule=name, fired=False, reason=f"signals.intent_probability is absent ({why})"))
                continue
            if p < rule.min_confidence:
                shown, bound = distinct_figures(p, rule.min_confidence)
                reason = f"intent confidence {shown} is below the rule's min_confidence {bound}"
                trace.append(RuleTrace(rule=name, fired=False, reason=reason))
                continue
        failed = rule.when.failure(facts)
        if failed is not None:
            trace.append(RuleTrace(rule=name, fired=False, reason=failure_reason(facts, failed)))
            continue

        entry = RuleTrace(rule=name, fired=True, reason="conditions held", details=rule.when.held(facts))
        effects = entry.effects
        trace.append(entry)
        for action in rule.then:
            if isinstance(action, RouteTo):
                if queue is None or (rule.override and queue != action.team):
                    effects.append(f"route → {action.team}" + (f" (overrides '{queue_by}')" if queue else ""))
                    queue, queue_by = action.team, name
                elif queue != action.team:
                    effects.append(
                        f"route → {action.team} not applied: rule '{queue_by}' already routed to "
                        f"{queue} (add override: true to replace it)"
                    )
            elif isinstance(action, SetPriority):
                if priority is None or (rule.override and priority != action.priority):
                    effects.append(
                        f"priority → {action.priority}" + (f" (overrides '{priority_by}')" if priority else "")
                    )
                    priority, priority_by = action.priority, name
                elif priority != action.priority:
                    effects.append(
                        f"priority → {action.priority} not applied: rule '{priority_by}' already set "
                        f"{priority} (add override: true to replace it)"
                    )
            elif isinstance(action, AssignTo):
                if assignee is None or (rule.override and assignee != action.assignee):
                    effects.append(
                        f"assign → {action.assignee}" + (f" (overrides '{assignee_by}')" if assignee else "")
                    )
                    assignee, assignee_by = action.assignee, name
                elif assignee != action.assignee:
                    effects.append(
                        f"assign → {action.assignee} not applied: rule '{assignee_by}' already "
                        f"assigned {assignee} (add override: true to replace it)"
                    )
            elif isinstance(action, AddTags):
                new = [t for t in action.tags if t not in tags]
                tags.extend(new)
                if new:
                    effects.append("tags + " + ", ".join(new))
            elif isinstance(action, AddNote):
                notes.append((entry, action))
                effects.append("note")
            elif isinstance(action, CreateOutreach):
                if outreach is not None:
                    effects.append(f"outreach not planned: rule '{outreach[0].rule}' already plans one")
                    continue
                refusal = outreach_refusal(policy.outreach, customer, outreach_history, now)
                if refusal is not None:
                    effects.append(f"outreach not planned: {refusal}")
                else:
                    outreach = (entry, action)
                    effects.append(f"outreach by {action.channel}")
        if rule.stop:
            stopped_by = name

    abstained = False
    if queue is None:
        if abstain_reason is not None:
            queue, abstained = defaults.triage_queue, True
            entry = RuleTrace(rule="(abstain)", fired=True, reason=abstain_reason)
            entry.effects.append(f"route → {queue} (triage)")
            trace.append(entry)
        elif defaults.route_by_intent and intent_team is not None:
            queue = intent_team
            p = signals.intent_probability
            confidence = f" at {p:.2f}" if p is not None else ""
            reason = f"the intent model predicted '{signals.intent}'{confidence}"
            entry = RuleTrace(rule="(intent)", fired=True, reason=reason)
            entry.effects.append(f"route → {queue}")
            trace.append(entry)
        else:
            if signals.intent is not None and intent_team is None:
                reason = f"intent label '{signals.intent}' is not a declared queue and not listed under intents"
                trace.append(RuleTrace(rule="(intent)", fired=False, reason=reason))
            if defaults.queue is not None:
                queue = defaults.queue
                entry = RuleTrace(rule="(default)", fired=True, reason="no rule routed the ticket")
                entry.effects.append(f"route → {queue}")
                trace.append(entry)
    elif abstain_reason is not None:
        reason = f"{abstain_reason}; rule '{queue_by}' routed the ticket on conditions that do not depend on the model"
        trace.append(RuleTrace(rule="(abstain)", fired=False, reason=reason))
    if priority is None and defaults.priority is not None and ticket.priority is None:
        priority = defaults.priority
        reason = "no rule set a priority and the ticket has none"
        entry = RuleTrace(rule="(default)", fired=True, reason=reason)
        entry.effects.append(f"priority → {priority}")
        trace.append(entry)

    note_bodies: list[str] = []
    outreach_params: dict[str, Any] | None = None
    if notes or outreach is not None or abstained:
        abstain_note = defaults.abstain_note or DEFAULT_ABSTAIN_NOTE
        context = _template_context(
            policy,
            ticket,
            customer,
            signals,
            local_now,
            trace,
            abstained,
            abstain_reason,
            queue,
            priority,
            assignee,
            tags,
        )
        if abstained:
            try:
                note_bodies.append(abstain_note.render(context))
            except TemplateRenderError as exc:
                note_bodies.append(f"deskroute did not choose a queue for this ticket: {abstain_reason}.")
                trace[-1].effects.append(f"abstain_note failed, a plain note was used: {exc}")
        for entry, add_note in notes:
            try:
                body = add_note.template.render(context)
            except TemplateRenderError as exc:
                entry.effects.append(f"note not added: {exc}")
                continue
            if body:
                note_bodies.append(body)
        if outreach is not None and customer is not None:
            entry, planned = outreach
            try:
                outreach_params = {
                    "channel": planned.channel,
                    "subject": planned.subject.render(context),
                    "body": planned.body.render(context),
                    "ticket": ticket.external_id,
                }
            except TemplateRenderError as exc:
                entry.effects.append(f"outreach not planned: {exc}")

    scope = decision_scope if decision_scope is not None else default_scope(ticket, policy)
    target = ticket.external_id
    actions: list[Action] = []
    if queue is not None:
        actions.append(_action("route", target, {"queue": queue}, scope))
    if priority is not None:
        actions.append(_action("set_priority", target, {"priority": priority}, scope))
    if assignee is not None:
        actions.append(_action("assign", target, {"assignee": assignee}, scope))
    if tags:
        actions.append(_action("add_tags", target, {"tags": tags}, scope))
    if note_bodies:
        actions.append(_action("add_note", target, {"body": "\n\n".join(note_bodies), "public": False}, scope))
    if outreach_params is not None and customer is not None:
        actions.append(_action("create_outreach", customer.external_id, outreach_params, scope))

    return Decision(
        actions=actions,
        trace=trace,
        policy_version=policy.version,
        abstained=abstained,
        abstain_reason=abstain_reason if abstained else None,
        abstain_source=abstain_source if abstained else None,
        policy_name=policy.name,
        decision_scope=scope,
        decided_at=now,
    )


def _cut_texts(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v[:MAX_NOTE_LENGTH] if isinstance(v, str) else v for k, v in values.items()}


def _template_context(
    policy: RoutingPolicy,
    ticket: Ticket,
    customer: Customer | None,
    signals: Signals,
    local_now: datetime,
    trace: list[RuleTrace],
    abstained: bool,
    abstain_reason: str | None,
    queue: str | None,
    priority: str | None,
    assignee: str | None,
    tags: list[str],
) -> dict[str, Any]:
    """Plain data for note and outreach templates (no objects with methods reach the sandbox).

    Texts are cut at MAX_NOTE_LENGTH characters, the longest note there can be: a template over a
    megabyte body would otherwise spend time and memory on text no note can show.
    """
    fired = [e for e in trace if e.fired and not e.rule.startswith("(")]
    return {
        "ticket": {
            "external_id": ticket.external_id,
            "source": ticket.source,
            "subject": ticket.subject[:MAX_NOTE_LENGTH],
            "body": ticket.body[:MAX_NOTE_LENGTH],
            "channel": ticket.channel,
            "language": ticket.language,
            "tags": list(ticket.tags),
            "priority": ticket.priority,
            "queue": ticket.queue,
            "status": ticket.status,
            "requester": ticket.requester,
            "organization": ticket.organization,
            "age_hours": round((local_now - as_utc(ticket.created_at)).total_seconds() / 3600.0, 1),
            "custom_fields": _cut_texts(ticket.custom_fields),
        },
        "customer": {
            "external_id": customer.external_id if customer else None,
            "name": customer.name if customer else None,
            "email": customer.email if customer else None,
            "organization": customer.organization if customer else None,
            "plan": customer.attributes.get("plan") if customer else None,
            "attributes": _cut_texts(customer.attributes) if customer else {},
            "opted_out": customer.opted_out if customer else None,
        },
        "signals": signals.model_dump(),
        "explanation": {
            "fired_rules": [e.rule for e in fired],
            "reasons": [f"{e.rule}: {'; '.join(e.details)}" for e in fired],
            "abstained": abstained,
            "abstain_reason": abstain_reason,
        },
        "decision": {"queue": queue, "priority": priority, "assignee": assignee, "tags": list(tags)},
        "policy": {"name": policy.name, "version": policy.version},
        "now": local_now.isoformat(timespec="minutes"),
    }
