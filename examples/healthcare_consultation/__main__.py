"""Run the healthcare example: ``python -m examples.healthcare_consultation``."""

from __future__ import annotations

import asyncio
import logging

from mas_gateway.demo.scenario import run_scenario
from mas_gateway.devstack import DevStack


async def main() -> None:
    """Start Redis (if none is configured), the MAS service and a gateway; run the story."""
    async with DevStack() as stack:
        await run_scenario(stack.agent_options())


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())
