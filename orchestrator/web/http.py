"""HTTP plumbing shared by the handlers: problem+json errors, body parsing, auth, metrics."""

from __future__ import annotations

import json
import logging
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, ValidationError

from orchestrator.domain.errors import InvalidRequest, OrchestratorError, refusal_words
from orchestrator.domain.models import Principal
from orchestrator.domain.text import unstorable, unstorable_fields
from orchestrator.domain.wire import wire_json
from orchestrator.store.base import RetryableStoreError
from orchestrator.web.keys import ACCESS, CATALOG, METRICS, PRINCIPAL
from orchestrator.web.wording import (
    Words,
    accepted_language,
    http_refusal,
    invalid,
    refusal,
)

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PROBLEM = "application/problem+json"


class Metrics:
    """The service's Prometheus metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._answers = _Answers()
        self.registry.register(self._answers)
        self.bookings = Counter(
            "orchestrator_bookings",
            "Booking attempts by outcome",
            ["outcome"],
            registry=self.registry,
        )

    def answered(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its time."""
        self._answers.add(method, route, status, seconds)


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LE = (*(repr(bound) for bound in LATENCY_BUCKETS), "+Inf")  # as Prometheus writes them


class _Answers(Collector):
    """`orchestrator_http_requests_total` and `orchestrator_http_request_seconds`, kept as plain
    numbers and read as metric families when scraped: only the event loop counts, and
    prometheus_client's own series take a lock for each change (four an answer, about a
    microsecond in all, as much as the rest of a webhook's counting)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, int], int] = {}
        # (method, route): the answers in each bucket (the last past every bound), then the sum
        self._times: dict[tuple[str, str], list[float]] = {}

    def add(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self._counts[key] = self._counts.get(key, 0) + 1
        times = self._times.get(key[:2])
        if times is None:
            times = self._times[key[:2]] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        times[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        times[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "orchestrator_http_requests",
            "HTTP requests answered",
            labels=["method", "route", "status"],
        )
        for (method, route, status), count in sorted(self._counts.items()):
            requests.add_metric([method, route, str(status)], count)
        latency = HistogramMetricFamily(
            "orchestrator_http_request_seconds",
            "Time to answer an HTTP request",
            labels=["method", "route"],
        )
        for labels, times in sorted(self._times.items()):
            buckets: list[tuple[str, float]] = []
            total = 0.0
            for le, answers in zip(_LE, times, strict=False):
                total += answers
                buckets.append((le, total))
            latency.add_metric(list(labels), buckets, times[-1])
        yield requests
        yield latency


def problem(
    status: int, title: str, detail: str, *, code: str, instance: str = "", **extra: Any
) -> web.Response:
    """An RFC 9457 problem details answer."""
    body = {
        "type": f"urn:orchestrator:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **({"instance": instance} if instance else {}),
        **extra,
    }
    headers = {"WWW-Authenticate": 'Bearer realm="orchestrator"'} if status == 401 else None
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False, default=str),
        content_type=PROBLEM,
        charset="utf-8",
        headers=headers,
    )


_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    500: "Internal server error",
}


def _reader(request: web.Request) -> tuple[Words | None, str]:
    """The catalog and the language of the caller (`Accept-Language`; English when absent)."""
    words = request.app.get(CATALOG)
    lang = accepted_language(request.headers.get("Accept-Language"))
    return words, (lang if words is not None else "en")


def validation_problem(exc: ValidationError, request: web.Request, where: str) -> web.Response:
    """422 listing every field refused; `message` and `detail` in the caller's language,
    `field` and `type` as they are."""
    words, lang = _reader(request)
    errors = [
        {
            "field": ".".join(str(p) for p in err["loc"]) or where,
            "message": (
                invalid(words, lang, err)
                if words is not None and lang != "en"
                else refusal_words(err)
            ),
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_input=False)
    ]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    detail = f"invalid {where}: {summary}"
    if words is not None and lang != "en":
        detail = words.text(lang, "refused.validation", summary=summary)
    return problem(
        422,
        _TITLES[422],
        detail,
        code="validation_error",
        instance=request.path,
        errors=errors,
    )


def _said(request: web.Request, key: str, english: str) -> str:
    words, lang = _reader(request)
    return english if words is None or lang == "en" else words.text(lang, key)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every error to problem+json; a bug is a logged 500, never a stack trace."""
    try:
        return await handler(request)
    except Exception as exc:
        return error_answer(request, exc)


def error_answer(request: web.Request, error: Exception) -> web.Response:
    """The problem+json answer to `error` raised while answering `request` (`errors_middleware`);
    an `HTTPException` below 400 (a redirect) is raised again."""
    try:
        raise error
    except OrchestratorError as exc:
        words, lang = _reader(request)
        return problem(
            exc.status,
            _TITLES.get(exc.status, "Error"),
            refusal(words, lang, exc) if words is not None else exc.message,
            code=exc.code,
            instance=request.path,
            **exc.extra(),
        )
    except ValidationError as exc:
        return validation_problem(exc, request, "request")
    except RetryableStoreError:
        response = problem(
            503,
            "Busy",
            _said(request, "refused.busy", "the database is busy; retry shortly"),
            code="busy",
            instance=request.path,
        )
        response.headers["Retry-After"] = "1"
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        words, lang = _reader(request)
        text = exc.text or exc.reason
        return problem(
            exc.status,
            _TITLES.get(exc.status, exc.reason),
            http_refusal(words, lang, exc.status, text) if words is not None else text,
            code=exc.reason.lower().replace(" ", "_"),
            instance=request.path,
        )
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(
            500,
            _TITLES[500],
            _said(request, "refused.internal", "the service failed; the error is logged"),
            code="internal_error",
        )


HOOKS = "/hooks/"  # the platforms' webhooks (see `metrics_middleware`)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every answer. The platforms' webhooks (`/hooks/`) go from here straight
    to their handler, with what `text_middleware` and `errors_middleware` do done here: their
    answers are small JSON of their own making (nothing to compress, no page), and the layers
    they skip made a webhook's CPU time about 5 % longer under a flood (157 µs, not 149, on
    SQLite); each layer is also one more frame to suspend and resume at every wait."""
    metrics = request.app[METRICS]
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    started = time.perf_counter()
    status = 500
    try:
        if request.path.startswith(HOOKS):
            try:
                refuse_unstorable_address(request)
                response = await request.match_info.handler(request)
            except Exception as exc:
                response = error_answer(request, exc)
        else:
            response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics.answered(request.method, name, status, time.perf_counter() - started)


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def principal_of(request: web.Request) -> Principal:
    """The authenticated caller. Raises AuthenticationRequired (401)."""
    cached = request.get(PRINCIPAL)
    if isinstance(cached, Principal):
        return cached
    principal = await request.app[ACCESS].authenticate(bearer(request))
    request[PRINCIPAL] = principal
    return principal


async def json_body(request: web.Request, model: type[M]) -> M:
    """The request body validated as `model`. Invalid JSON is 400, invalid fields 422."""
    if request.content_type not in ("application/json", "application/merge-patch+json") and (
        request.can_read_body or request.content_type
    ):
        raise web.HTTPUnsupportedMediaType(text="send the body as application/json")
    raw = await request.read()
    try:
        data = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(text=f"the body is not valid JSON: {exc}") from exc
    except RecursionError:
        raise web.HTTPBadRequest(text="the body's JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    refuse_unstorable(data)
    return model.model_validate(data)


def refuse_unstorable(data: object, where: str = "") -> None:
    """Raise InvalidRequest (422) naming the first field whose text no database can store (a NUL,
    an unpaired surrogate): refused alike on SQLite and PostgreSQL."""
    for field in unstorable_fields(data, where):
        raise InvalidRequest(
            f"{field or 'the value'} holds a character that cannot be stored (NUL or an unpaired"
            " surrogate)",
            field=field or None,
        )


@web.middleware
async def text_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a path or query parameter holding text no database can store, before any handler
    looks it up (422 naming the parameter)."""
    refuse_unstorable_address(request)
    return await handler(request)


def refuse_unstorable_address(request: web.Request) -> None:
    """Raise InvalidRequest (422) for a path or query parameter no database can store."""
    if unstorable(request.path):
        raise InvalidRequest("the path holds a character that cannot be stored", field="path")
    for key, value in request.query.items():
        if unstorable(key) or unstorable(value):
            raise InvalidRequest(
                f"query parameter {key!r} holds a character that cannot be stored",
                field=f"query.{key}",
            )


def query_model(request: web.Request, model: type[M], lists: tuple[str, ...] = ()) -> M:
    """Query parameters validated as `model`; `lists` are comma-separated (or repeated)."""
    data: dict[str, Any] = {}
    for key in request.query:
        values = request.query.getall(key)
        if key in lists:
            data[key] = [v.strip() for value in values for v in value.split(",") if v.strip()]
        else:
            data[key] = values[-1]
    return model.model_validate(data)


def json_response(model: BaseModel, status: int = 200, **headers: str) -> web.Response:
    return web.Response(
        status=status,
        body=wire_json(model),
        content_type="application/json",
        charset="utf-8",
        headers=headers or None,
    )


def raw_json(body: str, status: int = 200, **headers: str) -> web.Response:
    return web.Response(
        status=status, body=body, content_type="application/json", charset="utf-8", headers=headers
    )
