"""Command line: ``python -m mas.service`` runs the health monitor (options as ``mas service``)."""

from __future__ import annotations

import argparse
import asyncio
import logging

from redis.exceptions import RedisError

from ..errors import BackgroundTaskDied, ConfigError
from ..logs import configure_logging
from ..service_options import add_service_options, service_options
from .monitor import run_service

__all__ = ["main", "run_main"]

logger = logging.getLogger("mas.service")


def run_main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the service for parsed `args`; the exit code (2: cannot run, 1: a loop died)."""
    configure_logging(args.log_level, args.log_format)
    from ..otel_setup import configured_telemetry

    try:
        with configured_telemetry("mas-service"):
            asyncio.run(run_service(args.redis_url, **service_options(args)))
    except ConfigError as exc:
        logger.error("MAS service cannot run: %s", exc)
        return 2
    except (RedisError, OSError) as exc:
        logger.error("MAS service cannot run: %s", exc)
        return 2
    except BackgroundTaskDied as exc:
        logger.error("MAS service stopped: %s", exc)
        return 1
    except ValueError as exc:
        parser.error(str(exc))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m mas.service [options]``."""
    parser = argparse.ArgumentParser(
        prog="python -m mas.service", description="Run the MAS registry health monitor."
    )
    add_service_options(parser)
    return run_main(parser.parse_args(argv), parser)


if __name__ == "__main__":
    raise SystemExit(main())
