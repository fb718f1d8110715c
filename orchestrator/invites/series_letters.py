"""One site's invite to a series (DESIGN 10) from the series as it is: its calendar value (the
rule, the occurrences this site has, those that differ from the rule), the object and the email
of each message the outbox asks for. Pure: the gateway link and the secrets come from the caller.

SEQUENCE = the series' version minus 1 at the change the message reports (0 when booked; every
change of the series or of one of its occurrences raises the version): it only grows, and a
retried delivery sends the same object again.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Literal
from zoneinfo import ZoneInfo

from orchestrator.domain.models import Series, SeriesStatus, Session, SessionStatus, Site
from orchestrator.invites.ics import InviteEvent, InviteMethod, Party, invite_uid
from orchestrator.invites.ics_series import (
    Instance,
    SeriesEvent,
    mail_event,
    overrides_of,
    render_occurrence,
    render_occurrence_cancel,
    render_series,
    render_series_cancel,
)
from orchestrator.invites.imip import build_invite_email
from orchestrator.invites.letters import InviteSettings, rsvp_signature, sequence_of
from orchestrator.invites.wording import Language, describe_range, words

Message = Literal["series", "occurrence", "cancel-occurrence", "cancel-series"]
MESSAGES: tuple[Message, ...] = ("series", "occurrence", "cancel-occurrence", "cancel-series")


@dataclass(frozen=True)
class SeriesState:
    """A series and its occurrences (sessions, cancelled ones too) as the store has them."""

    series: Series
    occurrences: tuple[Session, ...]

    @property
    def cancelled(self) -> bool:
        return self.series.status is SeriesStatus.CANCELLED

    def rule_instances(self) -> list[datetime]:
        """Every original start the rule names: the occurrences booked and those skipped."""
        found = {o.occurrence or o.start for o in self.occurrences}
        found |= {k.occurrence for k in self.series.skipped}
        return sorted(found)

    def live(self, site_id: str) -> list[Session]:
        """The occurrences `site_id` takes part in that are not cancelled, earliest first."""
        return sorted(
            (
                o
                for o in self.occurrences
                if o.status is not SessionStatus.CANCELLED and site_id in o.site_ids
            ),
            key=lambda o: o.start,
        )

    def occurrence(self, original: datetime) -> Session | None:
        """The occurrence whose original start is `original`."""
        return next((o for o in self.occurrences if (o.occurrence or o.start) == original), None)

    def sites(self) -> list[str]:
        """Every site the series' invites go to: the series' own, then those an occurrence has
        alone."""
        extra = [s for o in self.occurrences for s in o.site_ids if s not in self.series.sites]
        return list(dict.fromkeys([*self.series.sites, *extra]))

    def over(self, now: datetime) -> bool:
        """Whether every meeting of the series is over: nothing left worth a message."""
        last = max(self.rule_instances(), default=self.series.start) + self.series.duration
        return last <= now and all(o.end <= now for o in self.occurrences)


@functools.lru_cache(maxsize=64)
def _party(name: str, email: str) -> Party:
    return Party(name, email)


def _connection_test(session: Session) -> datetime | None:
    before = session.buffer_before_minutes
    return session.start - timedelta(minutes=before) if before else None


def _instance(session: Session) -> Instance:
    return Instance(
        recurrence_id=session.occurrence or session.start,
        start=session.start,
        end=session.end,
        summary=session.title,
        agenda=session.agenda,
        chair=_party(session.chair.name, session.chair.email),
        connection_test_at=_connection_test(session),
    )


def series_event(
    state: SeriesState,
    site: Site,
    *,
    join_url: str,
    sequence: int,
    settings: InviteSettings,
    dtstamp: datetime,
) -> SeriesEvent:
    """The site's calendar value of the series: the master from the series, an EXDATE for every
    instance of the rule the site does not have now (skipped, cancelled, or without it), an
    override for every occurrence of the site that differs from the rule. Raises ValueError for
    a site without a coordinator email (nobody to invite)."""
    series = state.series
    email = site.coordinator.email
    if not email:
        raise ValueError(f"site {site.id} has no coordinator email: nobody to invite")
    instances = state.rule_instances()
    live = state.live(site.id)
    kept = {o.occurrence or o.start for o in live}
    event = SeriesEvent(
        uid=invite_uid(series.id, site.id, settings.domain),
        sequence=sequence,
        zone=series.timezone,
        start=series.start,
        end=series.end,
        rule=series.recurrence,
        last=max(instances, default=series.start),
        summary=series.title,
        organizer=settings.organizer,
        attendee=Party(site.coordinator.name or site.name, email),
        join_url=join_url,
        dtstamp=dtstamp,
        site_zone=site.timezone,
        chair=_party(series.chair.name, series.chair.email),
        agenda=series.agenda,
        buffer_before_minutes=series.buffer_before_minutes,
        exdates=tuple(i for i in instances if i not in kept),
        location=site.room,
        site_name=site.name,
        alarms=settings.alarms,
        language="en" if site.language == "en" else "vi",
    )
    overrides = overrides_of(event, [_instance(o) for o in live])
    return dataclasses.replace(event, overrides=overrides)


@dataclass(frozen=True)
class SeriesMessage:
    """One message of a series to one site: its object, what its mail says and its subject."""

    method: InviteMethod
    ics: bytes
    words: InviteEvent  # the occurrence (or the next one) as the mail's bodies describe it
    subject: str
    when: str | None  # the series' meetings in words, for a message about the whole series
    recurrence_id: datetime | None


def _date(moment: datetime, zone: str, language: Language) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    if language == "vi":
        return f"{local:%d/%m/%Y}"
    return f"{local.day} {words(language).months[local.month - 1]} {local.year}"


def series_when(state: SeriesState, event: SeriesEvent, site_id: str) -> str:
    """The site's meetings of the series in words: how many, the first and the last (in the
    site's zone), and when each one's connection test starts."""
    lang, zone = event.language, event.site_zone
    live = state.live(site_id)
    w = words(lang)
    if not live:
        first = last = describe_range(event.start, event.end, zone, lang)
        count = 0
    else:
        first = describe_range(live[0].start, live[0].end, zone, lang)
        last = describe_range(live[-1].start, live[-1].end, zone, lang)
        count = len(live)
    text = w["mail.series.when"].format(count=count, first=first, last=last)
    if event.buffer_before_minutes:
        text += w["mail.series.test"].format(minutes=event.buffer_before_minutes)
    return text


def compose(
    state: SeriesState,
    event: SeriesEvent,
    site_id: str,
    message: Message,
    original: datetime | None,
    now: datetime,
) -> SeriesMessage:
    """The message `message` (about the occurrence of `original`, when it is about one) for the
    site of `event`, decided by the series as it is now: an occurrence the site no longer has
    gets its cancellation whatever the row said, one it has gets its REQUEST; a cancelled series,
    or a site no longer in it, gets the series' CANCEL. Raises ValueError for an occurrence the
    series does not have."""
    lang = event.language
    w = words(lang)
    in_series = site_id in state.series.sites or bool(state.live(site_id))
    if message in ("occurrence", "cancel-occurrence") and not state.cancelled and in_series:
        if original is None:
            raise ValueError(f"a {message} message names its occurrence")
        session = state.occurrence(original)
        if session is None:
            raise ValueError(f"the series has no occurrence at {original.isoformat()}")
        date = _date(original, event.site_zone, lang)
        if original in event.exdates:  # cancelled, or the site removed from it
            instance = _instance(session)
            ics = render_occurrence_cancel(
                event, original, start=session.start, end=session.end, summary=session.title
            )
            subject = w["subject.series.cancel_occurrence"].format(date=date, summary=session.title)
            return SeriesMessage(
                InviteMethod.CANCEL,
                ics,
                mail_event(event, instance, InviteMethod.CANCEL),
                subject,
                None,
                original,
            )
        instance = event.instance(original)
        return SeriesMessage(
            InviteMethod.REQUEST,
            render_occurrence(event, original),
            mail_event(event, instance, InviteMethod.REQUEST),
            w["subject.series.occurrence"].format(date=date, summary=instance.summary),
            None,
            original,
        )
    when = series_when(state, event, site_id)
    first = _first_instance(state, event, site_id, now)
    if message == "cancel-series" or state.cancelled or not in_series:
        return SeriesMessage(
            InviteMethod.CANCEL,
            render_series_cancel(event),
            mail_event(event, first, InviteMethod.CANCEL),
            w["subject.series.cancel"].format(summary=event.summary),
            when,
            None,
        )
    kind = "changed" if event.sequence > 0 else "new"
    return SeriesMessage(
        InviteMethod.REQUEST,
        render_series(event),
        mail_event(event, first, InviteMethod.REQUEST),
        w[f"subject.series.{kind}"].format(summary=event.summary),
        when,
        None,
    )


def _first_instance(
    state: SeriesState, event: SeriesEvent, site_id: str, now: datetime
) -> Instance:
    """The occurrence a message about the whole series puts in its mail's header fields: the
    site's next one, else its last, else the rule's first."""
    live = state.live(site_id)
    upcoming = [o for o in live if o.end > now]
    chosen = upcoming[0] if upcoming else (live[-1] if live else None)
    if chosen is None:
        return Instance(
            recurrence_id=event.start,
            start=event.start,
            end=event.end,
            summary=event.summary,
            agenda=event.agenda,
            chair=event.chair,
        )
    # The mail says the series' meetings in `when`: no single connection test.
    instance = _instance(chosen)
    return Instance(
        recurrence_id=instance.recurrence_id,
        start=instance.start,
        end=instance.end,
        summary=event.summary,
        agenda=event.agenda,
        chair=event.chair,
    )


class SeriesLetters:
    """Makes a series' messages to its sites: their values, objects and emails."""

    def __init__(self, settings: InviteSettings) -> None:
        self._s = settings

    @property
    def settings(self) -> InviteSettings:
        return self._s

    def event(
        self, state: SeriesState, site: Site, join_url: str, version: int, now: datetime
    ) -> SeriesEvent:
        """The site's value of the series at `version`, stamped `now`. Raises ValueError for a
        site nobody can receive."""
        return series_event(
            state,
            site,
            join_url=join_url,
            sequence=sequence_of(version),
            settings=self._s,
            dtstamp=now,
        )

    def rsvp_url(self, key: bytes, series_id: str, site_id: str, response: str) -> str:
        sig = rsvp_signature(key, series_id, site_id, response)
        return f"{self._s.base}/rsvp/{series_id}/{site_id}/{response}?sig={sig}"

    def email(
        self,
        state: SeriesState,
        event: SeriesEvent,
        message: Message,
        original: datetime | None,
        now: datetime,
        key: bytes,
        page_of: Callable[[Session, Site], str | None],
        site: Site,
    ) -> tuple[SeriesMessage, EmailMessage]:
        """The message's object and its email: a REQUEST carries the answer links for the
        whole series (signed with `key`) and the link to the site's page of the occurrence it
        names (or the next one). Raises ValueError as `compose`."""
        composed = compose(state, event, site.id, message, original, now)
        request = composed.method is InviteMethod.REQUEST
        series_id = state.series.id
        page = None
        if request:
            named = state.occurrence(original) if original is not None else None
            upcoming = [o for o in state.live(site.id) if o.end > now]
            target = named or (upcoming[0] if upcoming else None)
            page = page_of(target, site) if target is not None else None
        mail = build_invite_email(
            composed.words,
            ics=composed.ics,
            subject=composed.subject,
            rsvp_accept_url=self.rsvp_url(key, series_id, site.id, "accepted") if request else None,
            rsvp_decline_url=(
                self.rsvp_url(key, series_id, site.id, "declined") if request else None
            ),
            page_url=page,
            when=composed.when,
        )
        return composed, mail


def parse_occurrence(value: object) -> datetime | None:
    """The payload's `occurrence` (RFC 3339) as an instant; None when absent."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"occurrence {value!r} has no offset")
    return parsed


def sites_of(payload_sites: object, state: SeriesState) -> Sequence[str]:
    """The sites a row names (`site_ids`), or every site of the series (null)."""
    if payload_sites is None:
        return state.sites()
    if not isinstance(payload_sites, list):
        raise ValueError("site_ids must be a list or null")
    return [str(s) for s in payload_sites]
