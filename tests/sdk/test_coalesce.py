"""Coalescer: concurrent requests share a flush, each gets its own result or error."""

from __future__ import annotations

import asyncio

import pytest

from mas.coalesce import Coalescer


class Recorder:
    """A flush that records the batches it was given and can be held open."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def flush(self, items: list[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        await self.gate.wait()
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


async def test_a_lone_request_is_flushed_alone_and_at_once() -> None:
    rec = Recorder()
    coalescer: Coalescer[int, int] = Coalescer(rec.flush, name="test")
    assert await coalescer.submit(2) == 20
    assert await coalescer.submit(4) == 40
    assert rec.batches == [[2], [4]]


async def test_requests_made_during_a_flush_go_together_with_their_own_results() -> None:
    rec = Recorder()
    rec.gate.clear()
    coalescer: Coalescer[int, int] = Coalescer(rec.flush, name="test")
    first = asyncio.create_task(coalescer.submit(0))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(coalescer.submit(i)) for i in (2, 3, 4)]
    await asyncio.sleep(0)
    rec.gate.set()
    assert await first == 0
    results = await asyncio.gather(*rest, return_exceptions=True)
    assert results[0] == 20 and results[2] == 40
    assert isinstance(results[1], ValueError) and str(results[1]) == "odd 3"
    assert rec.batches == [[0], [2, 3, 4]]


async def test_a_failed_flush_fails_every_request_in_it() -> None:
    async def broken(items: list[int]) -> list[int | BaseException]:
        await asyncio.sleep(0)
        raise ConnectionError("gone")

    coalescer: Coalescer[int, int] = Coalescer(broken, name="test")
    results = await asyncio.gather(*(coalescer.submit(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    with pytest.raises(ConnectionError):
        await coalescer.submit(9)  # and the next request is tried again


async def test_a_request_withdrawn_before_its_flush_is_not_carried_out() -> None:
    rec = Recorder()
    rec.gate.clear()
    coalescer: Coalescer[int, int] = Coalescer(rec.flush, name="test")
    first = asyncio.create_task(coalescer.submit(0))
    await asyncio.sleep(0)
    withdrawn = asyncio.create_task(coalescer.submit(2))
    kept = asyncio.create_task(coalescer.submit(4))
    await asyncio.sleep(0)
    withdrawn.cancel()
    rec.gate.set()
    assert (await first, await kept) == (0, 40)
    assert rec.batches == [[0], [4]]


async def test_a_caller_cancelled_during_its_own_flush_does_not_strand_the_others() -> None:
    rec = Recorder()
    rec.gate.clear()
    coalescer: Coalescer[int, int] = Coalescer(rec.flush, name="test")
    first = asyncio.create_task(coalescer.submit(0))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(coalescer.submit(6))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    rec.gate.set()
    async with asyncio.timeout(5):
        assert await waiting == 60
