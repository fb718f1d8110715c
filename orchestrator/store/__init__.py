"""Persistence: the store port (`base`) and its SQLAlchemy adapter (`sql`, `tables`, migrations)."""
