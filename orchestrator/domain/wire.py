"""The one JSON serialiser of answers: what the HTTP edge sends and what an idempotent create
stores to replay are the same bytes."""

from __future__ import annotations

from pydantic import BaseModel


def wire_json(model: BaseModel) -> str:
    """`model` as sent on the wire: JSON with the fields' public (alias) names."""
    return model.model_dump_json(by_alias=True)
