"""Surrogate key type: BIGINT on PostgreSQL, INTEGER (rowid alias) on SQLite."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer

BigId = BigInteger().with_variant(Integer(), "sqlite")
