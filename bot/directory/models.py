"""The directory's database tables: the HSDS core tables (generated from `hsds.TABLES`), the
numbers known to be wrong, the directory's own metadata, and the anonymous daily counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.directory import hsds


class Base(DeclarativeBase):
    pass


def _column(item: hsds.Field) -> Column:
    kind = {"number": Float, "date": Date}.get(item.type, Text)
    args: list[Any] = [ForeignKey(f"{item.ref}.id")] if item.ref else []
    if item.name == "id":
        return Column("id", String(128), primary_key=True)
    if item.ref:
        kind = String(128)
    return Column(item.name, kind, *args, nullable=not item.required)


# The HSDS core tables, generated from bot/hsds.py's field lists so the two cannot drift apart.
# row_order keeps the package's row order (the order services are listed in replies).
HSDS_TABLES: dict[str, Table] = {
    table.name: Table(table.name, Base.metadata, *(_column(f) for f in table.fields),
                      Column("row_order", Integer, nullable=False, default=0))
    for table in hsds.TABLES
}


class RejectedNumber(Base):
    """Numbers known to be wrong (data/rejected.csv): refused anywhere in the directory."""

    __tablename__ = "rejected_number"
    number: Mapped[str] = mapped_column(String(40), primary_key=True)
    why: Mapped[str] = mapped_column(Text)
    row_order: Mapped[int] = mapped_column(default=0)


class Meta(Base):
    __tablename__ = "directory_meta"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class DailyCount(Base):
    """Texts answered on a day, by campaign, topic, language, channel and line (the line's own number
    texted, when campaigns.yaml lists it; "" for any other), and how many of them started a
    conversation (bot.stats counts them). No row is about a person."""

    __tablename__ = "daily_count"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    campaign: Mapped[str] = mapped_column(String(40), primary_key=True)
    topic: Mapped[str] = mapped_column(String(40), primary_key=True)
    language: Mapped[str] = mapped_column(String(5), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    conversations: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # migration 0002
    line: Mapped[str] = mapped_column(String(20), primary_key=True, default="", server_default="")  # migration 0003
