"""One validated read for everything qconsole loads from a file somebody may have edited.

Session files, adapter configs and metadata, and the user config are declared as pydantic
models (strict types: ``"abc"`` is not a number, ``5`` is not a name, a list is not a table)
and read through :func:`check`, which turns the first problem into one line naming the field
(``turns.3.marks.left.kinds: expected a list``), never a traceback from deep inside the code
that trusted the file. pydantic is imported on first use only.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from qconsole.errors import QConsoleError
from qconsole.text_safety import safe_text

M = TypeVar("M")


class InvalidData(QConsoleError):
    """A file's content has the wrong shape; the message names the field and the problem."""


# parts of an error location that name a union member's type, not a field of the file
_TYPE_TAG = re.compile(
    r"^(constrained-\w+|str|int|float|bool|none|list\[.*|dict\[.*|function-\w+\[.*"
    r"|nullable\[.*|literal\[.*|tagged-union\[.*|json-or-python\[.*)$"
)


def _our_models() -> set[str]:
    from pydantic import BaseModel

    names: set[str] = set()
    todo = list(BaseModel.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("qconsole"):
            names.add(cls.__name__)
    return names


def describe(exc: Any) -> str:
    """The most specific error of a pydantic ValidationError as ``field.path: problem``."""
    errors = exc.errors(include_url=False, include_input=False)
    if not errors:
        return "invalid"
    models = _our_models()

    def path(err: dict) -> list[str]:
        return [str(p) for p in err.get("loc", ())
                if not (isinstance(p, str) and (_TYPE_TAG.match(p) or p in models))]

    first = max(errors, key=lambda e: len(path(e)))  # a union's deepest explanation
    loc = ".".join(path(first)) or "(top level)"
    msg = str(first.get("msg", "invalid")).replace("Input should be", "should be")
    msg = msg.replace("Extra inputs are not permitted", "unknown key")
    msg = re.sub(r" or instance of \w+", "", msg)
    fields = {".".join(path(e)) for e in errors}
    more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
    return safe_text(f"{loc}: {msg}{more}", inline=True)


def check(model: type[M], data: object, what: str) -> M:
    """``data`` validated as ``model`` (a pydantic model class), or InvalidData:
    ``<what>: <field>: <problem>``."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)  # type: ignore[attr-defined]
    except ValidationError as exc:
        raise InvalidData(f"{what}: {describe(exc)}") from None
    except RecursionError:
        raise InvalidData(f"{what}: nested too deeply") from None
