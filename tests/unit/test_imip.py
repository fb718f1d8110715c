"""Invite emails (iMIP, RFC 6047): MIME structure, headers, bodies, and the bytes on the wire."""

from __future__ import annotations

import base64
import copy
import email
import email.policy
import pickle
from datetime import UTC, datetime, timedelta
from email.generator import BytesGenerator
from email.message import EmailMessage
from io import BytesIO
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from orchestrator.invites import imip
from orchestrator.invites.ics import (
    InviteEvent,
    InviteMethod,
    Party,
    invite_uid,
    render_calendar,
)
from orchestrator.invites.imip import build_invite_email
from orchestrator.invites.mime import POLICY, encode_words
from orchestrator.invites.mime import base64_text as _base64
from orchestrator.invites.wording import Language

SESSION_ID = "8f14e45f-ceea-467a-9af0-0123456789ab"
START = datetime(2026, 12, 10, 1, 0, tzinfo=UTC)  # 08:00 in Hà Nội, 02:00 in Paris
END = datetime(2026, 12, 10, 4, 30, tzinfo=UTC)
SENT = datetime(2026, 11, 23, 2, 15, 7, tzinfo=UTC)
LINK = "https://meet.example.vn/giao-ban-vung-0123456789abcdef?jwt=eyJ0eXAiOiJKV1QifQ.e30.c2ln&x=1"
ORGANIZER = Party("Văn phòng Bộ GD&ĐT", "vanphong@hop.moet.example.vn")
COORDINATOR = Party("Nguyễn Thị Đầu Mối", "dau-moi@danang.example.vn")
AGENDA = "1. Khai mạc\n2. Báo cáo <điểm cầu> & thảo luận\n3. Bế mạc"
ACCEPT = "https://hop.moet.example.vn/rsvp/s/da-nang/accept?sig=ab&x=1"
DECLINE = "https://hop.moet.example.vn/rsvp/s/da-nang/decline?sig=cd"


def make_event(**changes: Any) -> InviteEvent:
    values: dict[str, Any] = {
        "uid": invite_uid(SESSION_ID, "da-nang", "hop.moet.example.vn"),
        "sequence": 0,
        "method": InviteMethod.REQUEST,
        "summary": "Hội nghị giao ban vùng miền Trung năm học 2026-2027",
        "start": START,
        "end": END,
        "timezone": "Asia/Ho_Chi_Minh",
        "organizer": ORGANIZER,
        "attendee": COORDINATOR,
        "chair": Party("Chánh Văn phòng Bộ", "chanh-vp@moet.example.vn"),
        "join_url": LINK,
        "dtstamp": SENT,
        "agenda": AGENDA,
        "connection_test_at": START - timedelta(minutes=30),
        "location": "Phòng họp tầng 3",
        "site_name": "Đà Nẵng",
        "alarms": (1440, 60, 30),
        "language": "vi",
    }
    values.update(changes)
    return InviteEvent(**values)


def build(event: InviteEvent | None = None, **kwargs: Any) -> tuple[EmailMessage, bytes]:
    event = event or make_event()
    ics = render_calendar(event)
    return build_invite_email(event, ics=ics, **kwargs), ics


def reparse(message: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def stock_bytes(message: EmailMessage, policy: Any = None) -> bytes:
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=policy or message.policy).flatten(message)
    return out.getvalue()


# Structure ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(InviteMethod))
def test_mime_tree_and_calendar_method(method: InviteMethod) -> None:
    message, ics = build(make_event(method=method, sequence=1))
    parsed = reparse(message)
    types = [part.get_content_type() for part in parsed.walk()]
    assert types == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
        "application/ics",
    ]
    calendar = next(p for p in parsed.walk() if p.get_content_type() == "text/calendar")
    assert calendar.get_param("method") == method.value
    assert f"METHOD:{calendar.get_param('method')}\r\n".encode() in ics
    assert calendar.get_param("component") == "VEVENT"
    assert calendar.get_content_charset() == "utf-8"
    assert calendar.get_payload(decode=True) == ics
    assert not calendar.is_attachment()
    for part in parsed.walk():
        if part.get_content_maintype() == "text":
            assert part.get_content_charset() == "utf-8"


def test_the_ics_is_attached_as_invite_ics() -> None:
    message, ics = build()
    parsed = reparse(message)
    (attachment,) = list(parsed.iter_attachments())
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_content() == ics


def test_the_attachment_is_optional() -> None:
    message, _ = build(attach_ics=False)
    parsed = reparse(message)
    assert list(parsed.iter_attachments()) == []
    assert [p.get_content_type() for p in parsed.walk()][-1] == "text/calendar"


def test_a_calendar_object_of_another_method_is_refused() -> None:
    cancel_ics = render_calendar(make_event(method=InviteMethod.CANCEL))
    with pytest.raises(ValueError, match="METHOD:CANCEL"):
        build_invite_email(make_event(), ics=cancel_ics)
    with pytest.raises(ValueError, match="no METHOD"):
        build_invite_email(make_event(), ics=b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")


# Headers -----------------------------------------------------------------------------------


def test_headers_decode_to_the_vietnamese_text() -> None:
    parsed = reparse(build()[0])
    assert parsed["Subject"] == "Mời họp: Hội nghị giao ban vùng miền Trung năm học 2026-2027"
    (sender,) = parsed["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (ORGANIZER.name, ORGANIZER.email)
    (recipient,) = parsed["To"].addresses
    assert (recipient.display_name, recipient.addr_spec) == (COORDINATOR.name, COORDINATOR.email)
    assert parsed["Date"].datetime == SENT
    assert parsed["MIME-Version"] == "1.0"
    assert parsed["Content-Language"] == "vi"


def test_subject_follows_the_kind_of_change_and_may_be_given() -> None:
    def subject(**kwargs: Any) -> str:
        event = kwargs.pop("event", make_event())
        return str(reparse(build(event, **kwargs)[0])["Subject"])

    assert subject().startswith("Mời họp: ")
    assert subject(event=make_event(sequence=2)).startswith("Cập nhật lịch họp: ")
    assert subject(event=make_event(method="CANCEL", sequence=3)).startswith("Hủy họp: ")
    assert subject(language="en").startswith("Invitation: ")
    assert subject(event=make_event(method="CANCEL", language="en")).startswith("Cancelled: ")
    assert subject(subject="Giấy mời, số 12/GM-BGDĐT") == "Giấy mời, số 12/GM-BGDĐT"


def test_sender_and_recipient_may_be_given() -> None:
    parsed = reparse(
        build(
            from_addr=Party("Office", "office@example.org"),
            to_addr=Party("", "other@example.org"),
        )[0]
    )
    assert str(parsed["From"]) == "Office <office@example.org>"
    assert str(parsed["To"]) == "other@example.org"


def test_message_id_is_stable_per_change() -> None:
    first = reparse(build()[0])["Message-ID"]
    again = reparse(build()[0])["Message-ID"]
    changed = reparse(build(make_event(sequence=1))[0])["Message-ID"]
    cancel = reparse(build(make_event(method="CANCEL", sequence=1))[0])["Message-ID"]
    assert first == again
    assert len({first, changed, cancel}) == 3
    assert str(first).endswith("@hop.moet.example.vn>")
    given = reparse(build(message_id="<x@example.org>")[0])["Message-ID"]
    assert given == "<x@example.org>"


# Bodies -------------------------------------------------------------------------------------


def test_bodies_state_time_in_the_site_zone_link_test_agenda_and_rsvp() -> None:
    parsed = reparse(build(rsvp_accept_url=ACCEPT, rsvp_decline_url=DECLINE)[0])
    text, html = body(parsed, "plain"), body(parsed, "html")
    when = "08:00–11:30 thứ Năm 10/12/2026 (giờ Asia/Ho_Chi_Minh)"
    for content in (text, html):
        assert when in content
        assert "Kiểm tra kết nối từ" in content
        assert "07:30 thứ Năm 10/12/2026 (giờ Asia/Ho_Chi_Minh)" in content
        assert "Đà Nẵng" in content
        assert "Chánh Văn phòng Bộ" in content
    assert LINK in text
    assert ACCEPT in text
    assert DECLINE in text
    assert AGENDA in text
    # HTML: the same, escaped.
    assert f'href="{LINK.replace("&", "&amp;")}"' in html
    assert f'href="{ACCEPT.replace("&", "&amp;")}"' in html
    assert "2. Báo cáo &lt;điểm cầu&gt; &amp; thảo luận" in html
    assert "<điểm cầu>" not in html


def test_no_rsvp_links_unless_given() -> None:
    parsed = reparse(build()[0])
    assert "Xin xác nhận tham dự" not in body(parsed, "plain")
    assert "rsvp" not in body(parsed, "html")


def test_english_site_in_another_zone() -> None:
    event = make_event(timezone="Europe/Paris", language="en", location="")
    parsed = reparse(build(event)[0])
    text = body(parsed, "plain")
    assert "When: 02:00–05:30 Thursday 10 December 2026 (Europe/Paris time)" in text
    assert "Connection test from: 01:30 Thursday 10 December 2026 (Europe/Paris time)" in text
    assert parsed["Content-Language"] == "en"
    assert "Europe/Paris time" in body(parsed, "html")


def test_a_cancel_says_so_and_gives_no_link() -> None:
    parsed = reparse(build(make_event(method="CANCEL", sequence=1), rsvp_accept_url=ACCEPT)[0])
    text = body(parsed, "plain")
    assert "đã bị HỦY" in text
    assert "08:00–11:30 thứ Năm 10/12/2026 (giờ Asia/Ho_Chi_Minh)" in text
    assert LINK not in text
    assert ACCEPT not in text
    assert "đã bị HỦY" in body(parsed, "html")


def test_an_updated_invite_says_it_changed() -> None:
    text = body(reparse(build(make_event(sequence=3))[0]), "plain")
    assert "đã được cập nhật" in text


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        build(language="fr")


_SITE_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"]) | st.sampled_from("<>&\"'\x000123456789 "),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(
    site=st.tuples(
        _SITE_TEXT,
        _SITE_TEXT,
        _SITE_TEXT,
        _SITE_TEXT,
        _SITE_TEXT,
        st.none() | _SITE_TEXT,
        st.none() | _SITE_TEXT,
        st.none() | _SITE_TEXT,
    ),
    language=st.sampled_from(["vi", "en"]),
    method=st.sampled_from(list(InviteMethod)),
    sequence=st.sampled_from([0, 2]),
    summary=st.sampled_from(['Giao ban <vùng> & "miền"', "Plain", "Có \x00 ký tự"]),
    agenda=st.sampled_from(["", AGENDA]),
    with_test=st.booleans(),
)
@example(
    site=("", "", "", "", "", None, "", None),
    language="vi", method=InviteMethod.REQUEST, sequence=0, summary="Plain", agenda="",
    with_test=False,
)  # fmt: skip
@example(
    site=("A & <B>", "a@x.vn", "\x001\x00", "'\"", LINK, ACCEPT, DECLINE, "https://o/signin/x&y"),
    language="en", method=InviteMethod.REQUEST, sequence=2, summary="Plain", agenda=AGENDA,
    with_test=True,
)  # fmt: skip
def test_bodies_filled_in_per_site_are_what_jinja_renders(
    site: tuple[str, str, str, str, str, str | None, str | None, str | None],
    language: Language,
    method: InviteMethod,
    sequence: int,
    summary: str,
    agenda: str,
    with_test: bool,
) -> None:
    # The bodies are rendered once per session with placeholders; filling in a site's values
    # (HTML-escaped in the HTML body) must give exactly what jinja gives for that site.
    event = make_event(
        method=method,
        sequence=sequence,
        summary=summary,
        agenda=agenda,
        connection_test_at=START - timedelta(minutes=30) if with_test else None,
    )
    kind = "cancel" if event.cancelled else "request"
    shared = imip._shared_values(
        event.summary, event.start, event.end, event.timezone, language, event.connection_test_at,
        event.agenda, "Chánh Văn phòng Bộ", ORGANIZER, event.sequence > 0,
    )  # fmt: skip
    text, html = imip._render_direct(language, kind, shared, site)
    filled = imip._render_bodies(language, kind, shared, site)
    assert filled == (text.encode(), html.encode())


# The bytes on the wire -------------------------------------------------------------------------


def test_wire_format_crlf_and_line_lengths() -> None:
    data = build(rsvp_accept_url=ACCEPT, rsvp_decline_url=DECLINE)[0].as_bytes()
    assert b"\n" not in data.replace(b"\r\n", b"")
    header, _, rest = data.partition(b"\r\n\r\n")
    assert all(len(line) <= 78 for line in header.split(b"\r\n"))
    assert all(len(line) <= 78 for line in rest.split(b"\r\n"))
    data.decode("ascii")


@pytest.mark.parametrize("method", list(InviteMethod))
@pytest.mark.parametrize("attach", [True, False])
def test_as_bytes_is_what_the_standard_generator_writes(method: InviteMethod, attach: bool) -> None:
    message, _ = build(make_event(method=method), attach_ics=attach, rsvp_accept_url=ACCEPT)
    assert message.as_bytes() == stock_bytes(message)
    assert message.as_bytes(policy=email.policy.SMTP) == stock_bytes(message, email.policy.SMTP)


def test_headers_added_later_take_the_standard_path() -> None:
    message, _ = build()
    message["X-Ghi-Chu"] = "Ghi chú: điểm cầu dự phòng"
    message["Reply-To"] = "Phòng Tổ chức <to-chuc@example.vn>"
    data = message.as_bytes()
    assert data == stock_bytes(message)
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert parsed["X-Ghi-Chu"] == "Ghi chú: điểm cầu dự phòng"
    assert parsed["Reply-To"].addresses[0].display_name == "Phòng Tổ chức"


def test_a_part_replaced_by_the_caller_is_still_written_right() -> None:
    message, _ = build()
    text_part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    text_part.set_content("Nội dung thay thế, 8bit.", cte="8bit")
    data = message.as_bytes()
    assert data == stock_bytes(message)
    assert body(reparse(message), "plain").rstrip() == "Nội dung thay thế, 8bit."


def _change_subject(message: EmailMessage) -> None:
    message.replace_header("Subject", "Thay đổi")


def _drop_a_header(message: EmailMessage) -> None:
    del message["Content-Language"]


def _add_a_preamble(message: EmailMessage) -> None:
    message.preamble = "This is a MIME message."


def _add_an_epilogue_inside(message: EmailMessage) -> None:
    alternative = message.get_payload(0)
    assert isinstance(alternative, EmailMessage)
    alternative.epilogue = "end"


def _attach_to_the_alternative(message: EmailMessage) -> None:
    alternative = message.get_payload(0)
    assert isinstance(alternative, EmailMessage)
    extra = EmailMessage()
    extra.set_content("Thêm", subtype="plain")
    alternative.attach(extra)


def _change_a_leaf_header(message: EmailMessage) -> None:
    html_part = next(p for p in message.walk() if p.get_content_type() == "text/html")
    html_part.set_param("charset", "utf-8")


def _change_a_leaf_payload(message: EmailMessage) -> None:
    text_part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    text_part.set_payload(base64.encodebytes("Khác".encode()).decode("ascii"))


def _drop_the_attachment(message: EmailMessage) -> None:
    payload = message.get_payload()
    assert isinstance(payload, list)
    payload.pop()


@pytest.mark.parametrize(
    "change",
    [
        _change_subject,
        _drop_a_header,
        _add_a_preamble,
        _add_an_epilogue_inside,
        _attach_to_the_alternative,
        _change_a_leaf_header,
        _change_a_leaf_payload,
        _drop_the_attachment,
    ],
)
def test_a_message_changed_after_it_was_built_is_written_as_changed(
    change: Any,
) -> None:
    # The bytes written while building are kept only as long as nothing changes.
    message, _ = build(rsvp_accept_url=ACCEPT)
    before = message.as_bytes()
    change(message)
    assert message.as_bytes() == stock_bytes(message)
    assert message.as_bytes() != before


def test_a_shallow_copy_changed_does_not_take_the_original_bytes() -> None:
    message, _ = build()
    before = message.as_bytes()
    twin = copy.copy(message)
    del twin["Subject"]  # a new header list for the copy only
    assert twin.as_bytes() == stock_bytes(twin)
    assert twin.as_bytes() != before
    assert message.as_bytes() == before == stock_bytes(message)


def test_emails_of_several_sessions_in_turn_keep_their_own_values() -> None:
    # The bodies and shared headers are cached per session: emails of different sessions,
    # built in turn, must each carry their own title, time, organizer and links.
    other = {
        "summary": "Giao ban Paris",
        "timezone": "Europe/Paris",
        "language": "en",
        "organizer": Party("Phòng Hợp tác", "htqt@moet.example.vn"),
        "agenda": "",
    }
    for round_ in range(2):
        for site in ("a", "b"):
            link = f"{LINK}&site={site}{round_}"
            first = make_event(uid=f"s1.{site}@x.vn", join_url=link, site_name=f"Hà Nội {site}")
            second = make_event(uid=f"s2.{site}@x.vn", join_url=link, **other)
            for event in (first, second):
                parsed = reparse(build(event, rsvp_accept_url=f"{ACCEPT}&{site}")[0])
                text = body(parsed, "plain")
                assert event.summary in str(parsed["Subject"])
                assert parsed["From"].addresses[0].display_name == event.organizer.name
                assert link in text
                assert f"{ACCEPT}&{site}" in text
                assert event.site_name in text
                assert ("Europe/Paris time" in text) == (event.timezone == "Europe/Paris")
                assert ("Khai mạc" in text) == bool(event.agenda)


def test_the_usual_email_api_works_on_the_built_message() -> None:
    message, ics = build()
    assert message["Subject"] == "Mời họp: Hội nghị giao ban vùng miền Trung năm học 2026-2027"
    assert message["To"].addresses[0].addr_spec == COORDINATOR.email
    assert message["Content-Type"].content_type == "multipart/mixed"
    assert message["Content-Type"].params["boundary"].startswith("=_mixed_")
    assert "Đà Nẵng" in body(message, "plain")
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content() == ics
    assert attachment.is_attachment()
    for twin in (copy.deepcopy(message), pickle.loads(pickle.dumps(message))):
        assert twin.as_bytes() == message.as_bytes()


def test_a_stock_smtp_client_writes_it_as_it_parses() -> None:
    # aiosmtplib flattens an EmailMessage with email.policy.SMTP, not the message's policy.
    message, ics = build()
    parsed = email.message_from_bytes(
        stock_bytes(message, email.policy.SMTP), policy=email.policy.default
    )
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == message["Subject"]
    assert (
        next(p for p in parsed.walk() if p.get_content_type() == "text/calendar").get_payload(
            decode=True
        )
        == ics
    )


# Helpers ---------------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=2000))
def test_base64_lines_are_the_standard_ones(data: bytes) -> None:
    assert _base64(data) == base64.encodebytes(data).decode("ascii")


def test_encoded_words_stay_short_and_decode_back() -> None:
    text = "Hội nghị trực tuyến toàn quốc tổng kết năm học, triển khai nhiệm vụ " * 3
    encoded = encode_words(text)
    assert encoded.isascii()
    assert all(len(word) <= 75 for word in encoded.split(" "))
    message = EmailMessage(policy=POLICY)
    message["Subject"] = encoded
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == " ".join(text.split())
    assert encode_words("Plain ASCII") == "Plain ASCII"
