"""Command line: ``python -m mas.service [--redis-url URL]`` runs the health monitor."""

from __future__ import annotations

import argparse
import asyncio
import logging

from redis.exceptions import RedisError

from ..errors import BackgroundTaskDied
from .monitor import run_service

__all__ = ["main"]

logger = logging.getLogger("mas.service")


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m mas.service [--redis-url URL]``."""
    parser = argparse.ArgumentParser(
        prog="python -m mas.service", description="Run the MAS registry health monitor."
    )
    parser.add_argument("--redis-url", help="Redis URL (default: $MAS_REDIS_URL or localhost)")
    parser.add_argument("--check-interval", type=float, default=5.0, help="seconds between checks")
    parser.add_argument(
        "--grace-period", type=float, default=60.0, help="seconds after registration before checks"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(
            run_service(
                args.redis_url,
                check_interval=args.check_interval,
                grace_period=args.grace_period,
            )
        )
    except (RedisError, OSError) as exc:
        logger.error("MAS service cannot run: %s", exc)
        return 2
    except BackgroundTaskDied as exc:
        logger.error("MAS service stopped: %s", exc)
        return 1
    except ValueError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
