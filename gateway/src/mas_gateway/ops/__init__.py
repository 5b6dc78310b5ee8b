"""Operability: the gateway's metrics and its HTTP endpoints (health, readiness, metrics)."""
