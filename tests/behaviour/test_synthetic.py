"""The synthetic generator: seeded, valid records, and the documented processes visible in its output."""

from __future__ import annotations

from collections import Counter

from evals.synthetic import HIGH_VALUE_MRR, SyntheticWorld, generate_world


def test_the_same_seed_gives_the_same_world() -> None:
    a, b = generate_world(20, 90, seed=5), generate_world(20, 90, seed=5)
    assert [t.model_dump() for t in a.tickets] == [t.model_dump() for t in b.tickets]
    assert a.churned_at == b.churned_at
    assert [e.external_id for e in generate_world(20, 90, seed=6).events] != [e.external_id for e in a.events]


def test_churned_customers_stop_and_records_stay_in_the_period(small_world: SyntheticWorld) -> None:
    assert 0.1 < len(small_world.churned_at) / len(small_world.customers) < 0.8
    for event in small_world.events:
        assert small_world.start <= event.occurred_at <= small_world.end
        gone = small_world.churned_at.get(event.customer_external_id)
        assert gone is None or event.occurred_at <= gone
    for record_time in (
        *(t.created_at for t in small_world.tickets),
        *(c.created_at for c in small_world.comments),
        *(r.created_at for r in small_world.ratings),
    ):
        assert small_world.start <= record_time <= small_world.end
    for r in small_world.ratings:
        gone = small_world.churned_at.get(r.customer_external_id)
        assert gone is None or r.created_at <= gone
    cancellations = Counter(e.customer_external_id for e in small_world.events if e.kind == "cancellation")
    assert set(cancellations) == set(small_world.churned_at) and set(cancellations.values()) == {1}


def test_priorities_follow_the_documented_policy(small_world: SyntheticWorld) -> None:
    mrr = {c.external_id: float(c.attributes["mrr"]) for c in small_world.customers}
    raised = [t for t in small_world.tickets if t.external_id in small_world.raised_for_customer]
    assert raised and all(mrr[t.requester or ""] >= HIGH_VALUE_MRR for t in raised)
    outages = [t for t in small_world.tickets if "outage" in t.tags]
    assert Counter(t.priority for t in outages).most_common(1)[0][0] == "urgent"
    assert {r.customer_external_id for r in small_world.ratings} <= set(mrr)
