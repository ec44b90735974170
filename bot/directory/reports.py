"""What `helpline directory check` and the dashboard report: services by the date a person last
confirmed them, and each need with its local and statewide services."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from bot.directory.facts import service_facts, snapshot_of
from bot.directory.snapshot import LOCAL, NATIONAL, STALE_DAYS, STATEWIDE, ServiceView, Snapshot

log = logging.getLogger(__name__)





def age_report(tables: Mapping[str, Sequence[Mapping[str, Any]]], today: dt.date,
               days: int = STALE_DAYS) -> list[str]:
    """`helpline directory check`: services by how long ago a person confirmed them."""
    facts = service_facts(tables)
    dated = sorted((f for f in facts if f.row.get("assured_date")), key=lambda f: (f.row["assured_date"], f.position))
    lines = [f"Services by the day a person last confirmed them (today is {today}; "
             f"a check older than {days} days is flagged):", ""]
    stale = 0
    for f in dated:
        age = (today - f.row["assured_date"]).days
        reason = f.why_not_sent()
        flag = ""
        if reason is None and age > days:
            stale += 1
            flag = f"  <- OLDER THAN {days} DAYS: confirm it again, then update assured_date"
        elif age < 0:
            flag = "  <- assured_date is in the future: check the date"
        state = "sent" if reason is None else f"not sent: {reason}"
        lines.append(f"  {f.row['assured_date']}  {age:>4} days  {f.label_en} ({f.row['name']}) [{state}]{flag}")
    never = [f for f in facts if not f.row.get("assured_date")]
    if never:
        lines += ["", "Never confirmed (not sent until a person confirms them and records assured_date):"]
        lines += [f"  {f.row['name']} [{f.row.get('status')}]" for f in never]
    sent = sum(1 for f in facts if f.why_not_sent() is None)
    lines += ["", f"{sent} sent to texters; {stale} older than {days} days; {len(never)} never confirmed."]
    return lines


def need_report(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """`helpline directory check`: each need (category) with the services sent for it, local
    ones with the towns they serve, then statewide and national ones."""
    snapshot = snapshot_of(tables, "check")
    names = {t["code"]: t.get("name") or t["code"] for t in tables.get("taxonomy_term", ())
             if t.get("taxonomy") == "helpline-category"}
    lines = ["", "Each need, with the services sent for it (local ones only to someone who names a town they serve):"]
    for code, name in names.items():
        services = snapshot.by_category.get(code, ())
        local = [f"{s.label['en']} ({', '.join(a.key.title() for a in s.areas)})"
                 for s in services if s.tier() == LOCAL]
        wide = [s.label["en"] for s in services if s.tier() == STATEWIDE]
        national = [s.label["en"] for s in services if s.tier() == NATIONAL]
        lines.append(f"  {code} ({name}):")
        lines.append(f"    local: {'; '.join(local) or 'none yet'}")
        lines.append(f"    statewide: {'; '.join(wide) or 'none'}" + ("" if wide or national else
                                                                      "  <- NOTHING TO SEND WITHOUT A TOWN"))
        if national:
            lines.append(f"    national: {'; '.join(national)}")
    return lines


def warn_if_stale(snapshot: Snapshot, today: dt.date | None) -> list[ServiceView]:
    """Log (at start) the sendable services nobody has confirmed for STALE_DAYS before `today`
    (none without a day)."""
    if today is None:
        return []
    stale = snapshot.stale(today)
    if stale:  # ages, not dates: the log's redaction takes a date for a phone number
        log.warning("directory: %d service(s) last confirmed more than %d days ago: %s. "
                    "Run `helpline directory check` and confirm them.", len(stale), STALE_DAYS,
                    "; ".join(f"{s.name} ({(today - s.assured_date).days} days)" for s in stale))
    return stale
