#!/usr/bin/env bash
# Run the healthcare consultation example from the repository root.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec uv run python -m examples.healthcare_consultation "$@"
