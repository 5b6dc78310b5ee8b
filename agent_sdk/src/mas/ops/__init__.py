"""Operations endpoints shared by the MAS processes: liveness, readiness, Prometheus metrics.

Needs the ``mas-agent-sdk[ops]`` extra (aiohttp, prometheus-client); the gateway
installs it.
"""
