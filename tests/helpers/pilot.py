"""Driving the console headless with Textual's Pilot (fixtures of tests/ui/conftest.py)."""

from __future__ import annotations

import asyncio


async def wait_for(pilot, predicate, timeout=120.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        assert loop.time() < end, "timed out waiting for the console"
        await pilot.pause(0.05)


async def send(pilot, app, text):
    """Type ``text`` into the prompt, send it, and wait until the left reply has finished."""
    from qconsole.ui.chat_pane import ChatPane

    await pilot.click("#prompt")
    await pilot.press(*text)
    await pilot.press("enter")
    left = app.query_one("#left", ChatPane)
    n = len(app.handles)
    await wait_for(pilot, lambda: len(left.turns) == n and not left.turns[-1].state.streaming)


class Posted:
    """Every message posted in an app under test: ``app.run_test(message_hook=posted)``.

    Tests assert on what the app said (a ``Notify`` it posted) rather than on Textual's private
    notification list."""

    def __init__(self) -> None:
        self.messages: list = []

    def __call__(self, message) -> None:
        self.messages.append(message)

    def of(self, kind: type) -> list:
        return [m for m in self.messages if isinstance(m, kind)]

    @property
    def notifications(self) -> list:
        """The ``Notification`` of every ``Notify`` posted, oldest first."""
        from textual.notifications import Notify

        return [m.notification for m in self.of(Notify)]


def screen_text(app) -> str:
    """What the terminal shows right now, as plain text, one line per terminal row (from
    Textual's SVG screenshot): for asserting on what a person would read, titles, footer and
    notifications included."""
    import html
    import re

    svg = app.export_screenshot()
    rows: dict[float, list[tuple[float, str]]] = {}
    for attrs, body in re.findall(r"<text([^>]*)>(.*?)</text>", svg, flags=re.S):
        x = re.search(r'\bx="([-0-9.]+)"', attrs)
        y = re.search(r'\by="([-0-9.]+)"', attrs)
        if x is None or y is None:
            continue
        text = html.unescape(re.sub(r"<[^>]+>", "", body)).replace("\xa0", " ")
        rows.setdefault(float(y.group(1)), []).append((float(x.group(1)), text))
    return "\n".join("".join(t for _, t in sorted(row)) for _, row in sorted(rows.items()))
