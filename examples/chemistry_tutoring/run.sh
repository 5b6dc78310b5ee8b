#!/usr/bin/env bash
# Run the chemistry tutoring example from the repository root.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec uv run python -m examples.chemistry_tutoring "$@"
