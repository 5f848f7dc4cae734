"""Fixtures for the Pilot tests of the console: waiting on the UI, sending a prompt, and a
scripted model for tests whose screens must not depend on what a real model says."""

from __future__ import annotations

import pytest

from tests.helpers import pilot, scripted_backend, teacher_scripts


@pytest.fixture(scope="session")
def wait_for():
    """``await wait_for(pilot, predicate)``: pause until predicate() holds (fails after 120 s)."""
    return pilot.wait_for


@pytest.fixture(scope="session")
def send():
    """``await send(pilot, app, text)``: type and send a prompt, wait for the left reply."""
    return pilot.send


@pytest.fixture(scope="session")
def screen_text():
    """``screen_text(app)``: what the terminal shows now, as plain text."""
    return pilot.screen_text


@pytest.fixture()
def posted():
    """Collects the messages an app posts: pass it as ``run_test(message_hook=posted)``, then
    read ``posted.notifications`` (or ``posted.of(MessageClass)``)."""
    return pilot.Posted()


@pytest.fixture(scope="session")
def scripted_loader():
    """``scripted_loader(left_replies, right_replies | None)``: a sides loader for QConsoleApp."""
    return scripted_backend.scripted_loader


@pytest.fixture(scope="session")
def gated_loader():
    """``gated_loader(reply, gate)``: a sides loader whose left reply waits for ``gate``."""
    return scripted_backend.gated_loader


@pytest.fixture()
def probe_script(isolated_workspace):
    """A two-turn rule-checked script "probe" in the workspace (tests/helpers/teacher_scripts)."""
    return teacher_scripts.write_probe(isolated_workspace)
