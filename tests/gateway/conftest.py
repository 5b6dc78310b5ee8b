"""Gateway test fixtures: close the agent connections the helpers opened."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .helpers import OPEN_CLIENTS


@pytest.fixture(autouse=True)
async def _close_probe_clients() -> AsyncIterator[None]:
    yield
    while OPEN_CLIENTS:
        await OPEN_CLIENTS.pop().aclose(close_connection_pool=True)
