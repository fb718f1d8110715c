"""The answers' metrics as Prometheus reads them: counts by status, cumulative buckets."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.web.http import LATENCY_BUCKETS, Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_answers_are_counted_by_status_and_timed_in_cumulative_buckets() -> None:
    metrics = Metrics()
    hook = ("POST", "/hooks/jitsi/events/{what}/{event}")
    for seconds in (0.001, 0.005, 0.02, 0.3, 7.0, 12.0):  # 0.005 is within its bound
        metrics.answered(*hook, 200, seconds)
    metrics.answered(*hook, 400, 0.002)
    metrics.answered("GET", "/healthz", 200, 0.0001)
    got = samples(metrics)

    route = (("method", "POST"), ("route", hook[1]))
    assert got[("orchestrator_http_requests_total", (*route, ("status", "200")))] == 6
    assert got[("orchestrator_http_requests_total", (*route, ("status", "400")))] == 1
    assert got[("orchestrator_http_request_seconds_count", route)] == 7
    assert abs(got[("orchestrator_http_request_seconds_sum", route)] - 19.328) < 1e-9

    def bucket(le: str) -> float:
        return got[("orchestrator_http_request_seconds_bucket", (("le", le), *route))]

    assert [bucket(repr(b)) for b in LATENCY_BUCKETS] == [3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6]
    assert bucket("+Inf") == 7
    healthz = (("method", "GET"), ("route", "/healthz"))
    assert got[("orchestrator_http_request_seconds_count", healthz)] == 1


def test_bookings_are_counted_beside_the_answers() -> None:
    metrics = Metrics()
    metrics.bookings.labels("booked").inc()
    assert samples(metrics)[("orchestrator_bookings_total", (("outcome", "booked"),))] == 1
