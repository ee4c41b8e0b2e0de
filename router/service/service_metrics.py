"""What ``/metrics`` exposes, in Prometheus's text format.

Two kinds of figures. Counts that every process must agree on (tickets decided, actions by state, the backlog,
sync lag, stored webhook deliveries) are read from the store at each scrape, so any one process behind a load
balancer reports the whole deployment. Timings and confidences are what this process measured itself
(histograms of its own routes, cycles and decisions), as Prometheus expects of per-instance histograms.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlmodel import col, func, select

from router.loop.cycle import CycleReport
from router.store import Store
from router.store.tables import DecisionRow, OutboxRow, SyncCursorRow, WebhookDeliveryRow

log = logging.getLogger("deskroute.service")

BACKLOG_STATES = ("pending", "applying", "failed")
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)


class StoreCollector(Collector):
    """The deployment-wide counts, read from the store when Prometheus scrapes."""

    def __init__(self, store: Store):
        self.store = store

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("deskroute_store_up", "Whether the store answered this scrape (1) or not (0)")
        try:
            families = list(self._from_store())
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            # A scrape must still answer (the store being down is what it should show), without the error's text.
            log.warning("metrics: the store did not answer (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _from_store(self) -> Iterator[Metric]:
        decisions = DecisionRow.__table__  # type: ignore[attr-defined]
        with self.store.session() as s:
            decided = s.exec(
                select(DecisionRow.source, DecisionRow.abstained, DecisionRow.team, func.count()).group_by(
                    col(DecisionRow.source), col(DecisionRow.abstained), col(DecisionRow.team)
                )
            ).all()
            abstain_source = decisions.c.decision["abstain_source"].as_string()
            abstained = s.execute(
                sa.select(decisions.c.source, abstain_source, sa.func.count())
                .where(decisions.c.abstained.is_(True))
                .group_by(decisions.c.source, abstain_source)
            ).all()
            actions = s.exec(
                select(OutboxRow.source, OutboxRow.kind, OutboxRow.state, func.count()).group_by(
                    OutboxRow.source, OutboxRow.kind, OutboxRow.state
                )
            ).all()
            cursors = s.exec(select(SyncCursorRow.connector, SyncCursorRow.updated_at)).all()
            deliveries = s.exec(
                select(WebhookDeliveryRow.connector, WebhookDeliveryRow.state, func.count()).group_by(
                    WebhookDeliveryRow.connector, WebhookDeliveryRow.state
                )
            ).all()
        tickets = CounterMetricFamily(
            "deskroute_tickets_decided",
            "Ticket decisions recorded, by connector, outcome (routed or abstained) and the policy's team",
            labels=["connector", "outcome", "queue"],
        )
        for source, was_abstained, team, n in decided:
            tickets.add_metric([source, "abstained" if was_abstained else "routed", team or ""], int(n))
        yield tickets
        abstentions = CounterMetricFamily(
            "deskroute_abstentions",
            "Decisions that abstained, by connector and reason (model: the model's own threshold; "
            "min_confidence: the policy's)",
            labels=["connector", "reason"],
        )
        for source, reason, n in abstained:
            abstentions.add_metric([source, reason or "unknown"], int(n))
        yield abstentions
        by_state = GaugeMetricFamily(
            "deskroute_actions",
            "Outbox actions by connector, kind and state (applied, failed and waiting to retry, dead, ...)",
            labels=["connector", "kind", "state"],
        )
        backlog: dict[str, int] = {}
        for source, kind, state, n in actions:
            by_state.add_metric([source, kind, state], int(n))
            if state in BACKLOG_STATES:
                backlog[source] = backlog.get(source, 0) + int(n)
        yield by_state
        waiting = GaugeMetricFamily(
            "deskroute_outbox_backlog", "Actions not yet applied (pending, applying, failed)", labels=["connector"]
        )
        for source, n in sorted(backlog.items()):
            waiting.add_metric([source], n)
        yield waiting
        lag = GaugeMetricFamily(
            "deskroute_sync_lag_seconds", "Seconds since the connector's sync last committed", labels=["connector"]
        )
        now = datetime.now(UTC)
        for connector, updated_at in cursors:
            lag.add_metric([connector], max((now - updated_at).total_seconds(), 0.0))
        yield lag
        stored = GaugeMetricFamily(
            "deskroute_webhook_deliveries_stored",
            "Accepted webhook deliveries by connector and state (pending: its sync has not run yet)",
            labels=["connector", "state"],
        )
        for connector, state, n in deliveries:
            stored.add_metric([connector, state], int(n))
        yield stored


class ServiceMetrics:
    """The registry ``/metrics`` renders: the store's counts and this process's own measurements."""

    def __init__(self, store: Store):
        self.registry = CollectorRegistry()
        self.registry.register(StoreCollector(store))
        self.webhooks = Counter(
            "deskroute_webhook_requests",
            "Webhook requests this process answered, by connector and result",
            ["connector", "result"],
            registry=self.registry,
        )
        self.route_seconds = Histogram(
            "deskroute_route_seconds", "Time to route one ticket over POST /v1/route", registry=self.registry
        )
        self.decide_seconds = Histogram(
            "deskroute_decide_seconds",
            "Time a cycle spent on signals and decisions, by connector",
            ["connector"],
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.apply_seconds = Histogram(
            "deskroute_apply_seconds",
            "Time a cycle spent applying the outbox, by connector",
            ["connector"],
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.confidence = Histogram(
            "deskroute_model_confidence",
            "The intent model's probability for the tickets this process decided",
            buckets=CONFIDENCE_BUCKETS,
            registry=self.registry,
        )

    def observe_confidences(self, values: Sequence[float | None]) -> None:
        for value in values:
            if value is not None:
                self.confidence.observe(value)

    def observe_cycle(self, report: CycleReport, store: Store) -> None:
        """A cycle's timings, and the confidences of the decisions it recorded."""
        self.decide_seconds.labels(report.connector).observe(report.seconds["signals"] + report.seconds["decide"])
        self.apply_seconds.labels(report.connector).observe(report.seconds["apply"])
        ids = report.engine.decisions
        if ids:
            with store.session() as s:
                signals = s.exec(select(DecisionRow.signals).where(col(DecisionRow.id).in_(ids))).all()
            self.observe_confidences([_probability(sig) for sig in signals])


def _probability(signals: Mapping[str, object]) -> float | None:
    value = signals.get("intent_probability")
    return float(value) if isinstance(value, int | float) else None
