"""Values rebuilt without validation (`domain.trusted`) are the values validation makes: equal,
hashed alike, serialised alike, copied alike; and nothing half-built gets through."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, PrivateAttr

from orchestrator.booking.schemas import SessionSiteOut
from orchestrator.domain.models import Coordinator, SessionSite, Site, SiteFacts
from orchestrator.domain.trusted import trusted

AT = datetime(2026, 12, 10, 1, tzinfo=UTC)


def test_a_trusted_value_is_the_validated_one() -> None:
    coordinator = trusted(Coordinator)(name="An", email="an@example.org", phone="")
    site = trusted(Site)(
        id="ha-noi",
        name="Hà Nội",
        region=None,
        timezone="Asia/Ho_Chi_Minh",
        coordinator=coordinator,
        capacity=30,
        room="",
        language="vi",
    )
    validated = Site(
        id="ha-noi",
        name="Hà Nội",
        timezone="Asia/Ho_Chi_Minh",
        coordinator=Coordinator(name="An", email="an@example.org"),
        capacity=30,
    )
    assert site == validated
    assert hash(site) == hash(validated)
    assert site.model_dump_json() == validated.model_dump_json()
    assert site.coordinator_email == "an@example.org"
    assert SiteFacts.of(site) == ("ha-noi", "Hà Nội", "Asia/Ho_Chi_Minh", "an@example.org")


def test_trusted_answers_serialise_and_copy_as_validated_ones() -> None:
    values = {
        "site_id": "ha-noi",
        "name": "Hà Nội",
        "timezone": "Asia/Ho_Chi_Minh",
        "local_start": AT,
        "local_end": AT,
        "host": True,
        "role": "participant",
        "join_url": "https://meet.example.org/x",
    }
    made = trusted(SessionSiteOut)(**values)
    validated = SessionSiteOut(**values)
    assert made.model_dump_json() == validated.model_dump_json()
    hidden = made.model_copy(update={"join_url": None})
    assert hidden.join_url is None
    assert made.join_url == "https://meet.example.org/x"
    assert made.model_fields_set == validated.model_fields_set
    another = trusted(SessionSiteOut)(**values)
    another.join_url = None  # not frozen: assigning adds to no other value's fields
    assert made.join_url == "https://meet.example.org/x"
    assert made.model_fields_set == set(SessionSiteOut.model_fields)


def test_every_field_must_be_given() -> None:
    make = trusted(SessionSite)
    with pytest.raises(TypeError, match="join_url"):
        make(site_id="ha-noi")
    with pytest.raises(TypeError, match="unknown"):
        make(site_id="ha-noi", join_url=None, extra=1)


def test_models_it_cannot_build_are_refused() -> None:
    class Private(BaseModel):
        a: int
        _b: int = PrivateAttr(default=0)

    with pytest.raises(TypeError):
        trusted(Private)
