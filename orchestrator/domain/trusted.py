"""Values rebuilt from what was validated before (a stored row, fields of a model already made),
without validating them again: a 10,000-site session makes tens of thousands of them.

pydantic's `model_construct` skips validation too, but its loop over the fields, aliases and
defaults costs more than validating small models; `trusted` sets what it sets (the fields, the
fields set, no extra, no private values) and nothing else, so it is kept to models it can build:
every field given, no private attributes, no `model_post_init`, not a root model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__


def trusted(cls: type[M]) -> Callable[..., M]:
    """A constructor of `cls` from keyword values naming every one of its fields, taken as they
    are: the caller vouches that they are what validating them would give (same types, same
    values). Raises TypeError now for a model it cannot build, and (at each call) for missing or
    unknown fields."""
    if cls.__private_attributes__ or cls.__pydantic_post_init__ or cls.__pydantic_root_model__:
        raise TypeError(f"{cls.__name__} cannot be built without validation")
    names = frozenset(cls.model_fields)
    # Every field is given, so every value shares one set of the fields' names: pydantic only
    # ever adds a name to it (already there) and copies it before changing a copy's. One set
    # less per value is fewer objects for the garbage collector to walk.
    given = set(names)
    new = cls.__new__

    def make(**values: Any) -> M:
        if values.keys() != names:
            raise TypeError(
                f"{cls.__name__} needs every field: missing {sorted(names - set(values))}, "
                f"unknown {sorted(set(values) - names)}"
            )
        obj = new(cls)
        _set(obj, "__dict__", values)
        _set(obj, "__pydantic_fields_set__", given)
        _set(obj, "__pydantic_extra__", None)
        _set(obj, "__pydantic_private__", None)
        return obj

    make.__doc__ = f"A {cls.__name__} from values already valid (see `trusted`)."
    return make
