"""Every process a test starts is stopped at its end, whatever happens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.processes import Process


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()
