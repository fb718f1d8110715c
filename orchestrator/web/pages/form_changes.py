"""How a page's form that changes a booking answers (a session's page and a series' page): the
use case is run, then back to the page with a notice; or the page again, with what was typed and
why it was refused (a conflict, a policy breach, a state, an invalid request, a field)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from orchestrator.domain.errors import (
    BookingConflict,
    InvalidRequest,
    InvalidState,
    PolicyViolation,
)
from orchestrator.web.keys import CATALOG
from orchestrator.web.pages.common import invalid_summary, language
from orchestrator.web.wording import reason_words, refusal

Problem = dict[str, Any]


@dataclass(frozen=True)
class FormPage:
    """One page's ways of answering its forms."""

    show: Callable[[Problem, int], Awaitable[web.StreamResponse]]  # the page again, a status
    conflicts: Callable[[BookingConflict], Awaitable[list[dict[str, Any]]]]
    breaches: Callable[[PolicyViolation], list[dict[str, Any]]]
    path: str  # where a change done sends the browser
    fields: Mapping[str, str]  # a refusal's catalog key: the field it is about
    state_worded: bool = False  # an InvalidState said in its own words, not the page's notice


async def change(
    request: web.Request,
    page: FormPage,
    form: str,
    values: Mapping[str, Any],
    action: Callable[[], Awaitable[object]],
    done: str,
) -> web.StreamResponse:
    """Run `action`; on success back to the page with the `done` notice, else the page with
    the problem (409 for a conflict or a state, 422 for the rest)."""
    problem: Problem = {"form": form, "values": dict(values)}
    try:
        await action()
    except BookingConflict as exc:
        problem.update(kind="conflict", conflicts=await page.conflicts(exc))
        return await page.show(problem, 409)
    except PolicyViolation as exc:
        problem.update(kind="policy", breaches=page.breaches(exc))
        return await page.show(problem, 422)
    except InvalidState as exc:
        if not page.state_worded:
            problem.update(kind="state")
            return await page.show(problem, 409)
        problem.update(kind="invalid", detail=_words(request, exc))
        return await page.show(problem, 409)
    except InvalidRequest as exc:
        problem.update(kind="invalid", detail=_words(request, exc))
        return await page.show(problem, 422)
    except ValidationError as exc:
        problem.update(kind="invalid", detail=invalid_summary(request, exc))
        return await page.show(problem, 422)
    raise web.HTTPSeeOther(f"{page.path}?done={done}")


async def refuse(
    page: FormPage, form: str, values: Mapping[str, Any], key: str
) -> web.StreamResponse:
    """The form is wrong before any use case is asked: say which field, keep what was typed."""
    problem: Problem = {
        "form": form,
        "values": dict(values),
        "kind": "field",
        "key": key,
        "field": page.fields.get(key),
    }
    return await page.show(problem, 422)


def _words(request: web.Request, exc: InvalidRequest | InvalidState) -> str:
    words, lang = request.app[CATALOG], language(request)
    return reason_words(words, lang, exc) or refusal(words, lang, exc)
