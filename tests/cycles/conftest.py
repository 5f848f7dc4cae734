"""Fixtures for the cycle tests: hand-countable stored runs and ledgers (tests/helpers/cycles)."""

from __future__ import annotations

import pytest

from tests.helpers import cycles


@pytest.fixture(scope="session")
def held_out_items():
    return cycles.held_out_items


@pytest.fixture(scope="session")
def stored_run():
    return cycles.stored_run


@pytest.fixture(scope="session")
def ledger_with_cycles():
    return cycles.ledger_with_cycles
