"""Circuit breakers per target: the state machine, and the gateway task that keeps them.

The pipeline stage that parks messages is `mas_gateway.stages.circuit`; settings come
from ``policies/circuits.yaml`` (`mas_gateway.policy.circuits`).
"""

from __future__ import annotations

from .keeper import CircuitKeeper, CircuitView, read_circuits
from .state import Circuit, Observation, step

__all__ = ["Circuit", "CircuitKeeper", "CircuitView", "Observation", "read_circuits", "step"]
