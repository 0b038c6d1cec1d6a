"""Declarative base shared by every domain's ``models.py``."""

from __future__ import annotations

from sqlalchemy import MetaData, event
from sqlalchemy.orm import DeclarativeBase

from daihou.db import storage

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# PostgreSQL storage settings (fill factors, unlogged scratch tables: ``db.storage``),
# made whenever create_all makes the tables (the migrations make them too: ``env.py``)
event.listen(Base.metadata, "after_create", storage.after_create)
