"""Checks of what callers give the store to write, before anything reaches a file.

A typo in a field name or a value of the wrong type fails loudly at once, with one line naming
the field, instead of being saved and silently ignored (or saved and breaking every later
read). What a file must hold when *read* is checked by ``schema.validate``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from qconsole.errors import QConsoleError
from qconsole.store.ids import SIDES
from qconsole.store.model import (
    REPLY_FIELDS,
    REPLY_FLOAT_FIELDS,
    REPLY_INT_FIELDS,
    REPLY_STR_FIELDS,
)


def _check_json(value: Any, what: str) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise QConsoleError(f"{what} cannot be saved as JSON: {exc}") from None
    return value


def reply_fields(fields: dict, *, what: str = "reply") -> dict:
    """Check and normalise reply fields given by a caller (see REPLY_FIELDS)."""
    if not isinstance(fields, dict):
        raise QConsoleError(f"{what} must be a dict of fields, not {type(fields).__name__}")
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "adapter" and isinstance(value, dict):
            out["adapter"] = _opt_str(value.get("name"), f"{what}.adapter.name")
            if "fingerprint" in value:
                out["adapter_fingerprint"] = _opt_str(
                    value.get("fingerprint"), f"{what}.adapter.fingerprint"
                )
        elif key in REPLY_STR_FIELDS:
            out[key] = _opt_str(value, f"{what}.{key}")
        elif key in REPLY_INT_FIELDS:
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise QConsoleError(f"{what}.{key} must be an int or None, not {value!r}")
            out[key] = value
        elif key in REPLY_FLOAT_FIELDS:
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if value is not None and not number:
                raise QConsoleError(f"{what}.{key} must be a number or None, not {value!r}")
            out[key] = None if value is None or not math.isfinite(value) else float(value)
        elif key == "sampling":
            if hasattr(value, "to_dict"):
                value = value.to_dict()
            if value is not None and not isinstance(value, dict):
                raise QConsoleError(f"{what}.sampling must be a dict or SamplingSettings")
            out[key] = dict(_check_json(value or {}, f"{what}.sampling"))
        elif key == "extra":
            if value is not None and not isinstance(value, dict):
                raise QConsoleError(f"{what}.extra must be a dict")
            out[key] = dict(_check_json(value or {}, f"{what}.extra"))
        else:
            raise QConsoleError(
                f"unknown {what} field {key!r}; known fields: {', '.join(REPLY_FIELDS)}"
            )
    if out.get("text") is None and "text" in out:
        out["text"] = ""
    return out


def _opt_str(value: Any, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise QConsoleError(f"{what} must be a string or None, not {type(value).__name__}")
    return value


TURN_KEYS = ("user", "left", "right", "replies", "created", "blind")


def turn_input(turn: dict) -> tuple[str, dict[str, dict], str | None, dict | None]:
    """(user text, {side: reply fields}, created, blind) from what ``append_turn`` was given.

    Sides may be given as top-level ``left``/``right`` keys or under ``replies``. ``blind``
    (a turn shown as A/B) is ``{"seed": int}`` with an optional ``"assignment"``; its values
    are checked by ``votes.blind_doc``.
    """
    if not isinstance(turn, dict):
        raise QConsoleError(f"a turn must be a dict, not {type(turn).__name__}")
    unknown = set(turn) - set(TURN_KEYS)
    if unknown:
        raise QConsoleError(
            f"unknown turn field(s) {sorted(unknown)}; known: {', '.join(TURN_KEYS)}"
        )
    user = turn.get("user")
    if not isinstance(user, str):
        raise QConsoleError("a turn needs the user's text as a string under 'user'")
    given = dict(turn.get("replies") or {})
    for side in SIDES:
        if turn.get(side) is not None:
            given[side] = turn[side]
    replies: dict[str, dict] = {}
    for side, fields in given.items():
        if side not in SIDES:
            raise QConsoleError(f"side must be 'left' or 'right', not {side!r}")
        if fields is None:
            continue
        replies[side] = reply_fields(fields, what=f"{side} reply")
    created = _opt_str(turn.get("created"), "turn.created")
    blind = turn.get("blind")
    if blind is not None:
        bad_keys = isinstance(blind, dict) and set(blind) - {"seed", "assignment"}
        if not isinstance(blind, dict) or "seed" not in blind or bad_keys:
            raise QConsoleError("turn.blind must be {'seed': int} with an optional 'assignment'")
        blind = dict(blind)
    return user, replies, created, blind


META_KNOWN = ("title", "models", "adapters", "template", "settings", "system", "extra")


def meta_input(meta: dict | None) -> dict:
    """Session metadata from a caller: known keys checked, unknown keys kept under ``extra``."""
    meta = dict(meta or {})
    for reserved in ("id", "created", "updated", "schema_version"):
        meta.pop(reserved, None)
    out: dict[str, Any] = {
        "title": _opt_str(meta.pop("title", None), "meta.title") or "",
        "models": _str_map(meta.pop("models", None), "meta.models"),
        "adapters": _adapters(meta.pop("adapters", None)),
        "template": _opt_str(meta.pop("template", None), "meta.template") or "",
        "system": _opt_str(meta.pop("system", None), "meta.system") or "",
    }
    settings = meta.pop("settings", None)
    if hasattr(settings, "to_dict"):
        settings = settings.to_dict()
    out["settings"] = dict(_check_json(settings or {}, "meta.settings"))
    extra = dict(meta.pop("extra", None) or {})
    extra.update(meta)
    out["extra"] = _check_json(extra, "meta.extra")
    return out


def _str_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {side: value for side in SIDES}
    if not isinstance(value, dict):
        raise QConsoleError(f"{what} must be a dict of side -> name")
    return {str(k): str(v) for k, v in value.items() if v is not None}


def _adapters(value: Any) -> dict[str, Any]:
    """{side: {"name", "fingerprint"} or None}."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise QConsoleError("meta.adapters must be a dict of side -> adapter")
    out: dict[str, Any] = {}
    for side, ad in value.items():
        if ad is None:
            out[str(side)] = None
        elif isinstance(ad, str):
            out[str(side)] = {"name": ad, "fingerprint": None}
        elif isinstance(ad, dict):
            out[str(side)] = {
                "name": _opt_str(ad.get("name"), "adapter name"),
                "fingerprint": _opt_str(ad.get("fingerprint"), "adapter fingerprint"),
            }
        else:
            raise QConsoleError(f"meta.adapters[{side!r}] must be a name, a dict or None")
    return out


