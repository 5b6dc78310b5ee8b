"""Scenarios of ``mas bench gateway``: what traffic each one offers, over which stack.

Each scenario runs twice in one run: over plain Redis streams (the baseline) and
through the gateway. ``agents`` counts every active agent: half of them send,
each to its own receiver among the other half.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .traffic import Traffic

__all__ = [
    "DEFAULT_SET",
    "QUICK_SET",
    "SCENARIOS",
    "Scenario",
    "custom_scenario",
    "scenario_named",
    "select",
]

PAYLOAD_BUDGET_BYTES = 64 * 1024 * 1024
"""A scenario moves at most this many payload bytes (fewer messages for large payloads)."""


@dataclass(frozen=True)
class Scenario:
    """One measured configuration."""

    name: str
    description: str
    messages: int = 5000
    agents: int = 2
    registered: int = 0
    """Agents provisioned in all when it runs (at least `agents`): the idle ones only have
    outboxes the gateways read."""
    gateways: int = 1
    size: int = 64
    traffic: Traffic = "clean"
    rate: float | None = None
    """Offered messages per second in total; None: every sender as fast as it can."""
    policy_rules: int = 0
    """Extra Casbin rules in the policy (none of them matches benchmark traffic)."""

    @property
    def pairs(self) -> int:
        """Sender-receiver pairs."""
        return max(1, self.agents // 2)

    @property
    def message_count(self) -> int:
        """Messages to send: `messages`, fewer when that would exceed the payload budget."""
        capped = max(self.pairs, PAYLOAD_BUDGET_BYTES // max(self.size, 1))
        return max(self.pairs, min(self.messages, capped))

    def adjusted(self, *, messages: int | None, rate: float | None) -> Scenario:
        """With `messages` instead of the default count and `rate` for paced scenarios."""
        changed = self
        if messages is not None:
            changed = dataclasses.replace(changed, messages=messages)
        if rate is not None and changed.rate is not None:
            changed = dataclasses.replace(changed, rate=rate)
        return changed


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario("throughput", "1 -> 1 agent, 64 B clean text, as fast as possible"),
        Scenario("latency", "1 -> 1 agent, 64 B, paced at the offered rate", 2500, rate=500.0),
        Scenario("agents-10", "5 -> 5 agents, 64 B", agents=10),
        Scenario("agents-100", "50 -> 50 agents, 64 B", agents=100),
        Scenario("agents-1000", "500 -> 500 agents, 64 B", 10_000, agents=1000),
        Scenario("gateways-2", "5 -> 5 agents, 64 B, 2 gateway processes", agents=10, gateways=2),
        Scenario("payload-4k", "1 -> 1 agent, 4 KB clean text", 1000, size=4096),
        Scenario("payload-256k", "1 -> 1 agent, 256 KB clean text", 50, size=256 * 1024),
        Scenario(
            "ner", "1 -> 1 agent, 64 B text naming a person (spaCy NER runs)", 500, traffic="ner"
        ),
        Scenario(
            "registered-1000",
            "50 -> 50 active agents of 1,000 registered, 64 B",
            agents=100,
            registered=1000,
        ),
        Scenario(
            "policy-1000",
            "1 -> 1 agent, 64 B, policy with 1,000 extra Casbin rules",
            policy_rules=1000,
        ),
    ]
}

DEFAULT_SET = (
    "throughput",
    "latency",
    "agents-10",
    "agents-100",
    "gateways-2",
    "payload-4k",
    "payload-256k",
    "ner",
)
"""What ``mas bench gateway`` runs without ``--scenario``: a few minutes on two cores."""

QUICK_SET = ("throughput", "latency", "ner")
"""``--quick``: the headline figures, with a fifth of the messages."""


def scenario_named(name: str) -> Scenario:
    """The scenario called `name`; `KeyError` with the known names otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"no benchmark scenario {name!r}; known: {', '.join(SCENARIOS)}") from None


def custom_scenario(
    *,
    agents: int | None = None,
    registered: int | None = None,
    size: int | None = None,
    traffic: Traffic | None = None,
    gateways: int | None = None,
    policy_rules: int | None = None,
    rate: float | None = None,
) -> Scenario:
    """A scenario named ``custom`` from the given values (the rest as in ``throughput``)."""
    active = agents or 2
    base = Scenario(
        "custom",
        "",
        agents=active,
        registered=max(registered or 0, active),
        gateways=gateways or 1,
        size=64 if size is None else size,
        traffic=traffic or "clean",
        rate=rate,
        policy_rules=policy_rules or 0,
    )
    pace = f", offered {rate:g} msgs/s" if rate else ""
    description = (
        f"{base.pairs} -> {base.pairs} agents of {base.registered} registered, "
        f"{base.size} B {base.traffic}, {base.gateways} gateway process(es), "
        f"{base.policy_rules} extra policy rules{pace}"
    )
    return dataclasses.replace(base, description=description)


def select(
    names: list[str],
    *,
    quick: bool = False,
    messages: int | None = None,
    rate: float | None = None,
    custom: Scenario | None = None,
) -> list[Scenario]:
    """The scenarios to run: `names` ('all' for every one), else `custom`, else the default
    set (`QUICK_SET` with a fifth of the messages when `quick`); `KeyError` for a bad name."""
    chosen_names: list[str] = []
    for name in names:
        chosen_names += list(SCENARIOS) if name == "all" else [name]
    if not chosen_names and custom is None:
        chosen_names = list(QUICK_SET if quick else DEFAULT_SET)
    chosen = [scenario_named(n) for n in dict.fromkeys(chosen_names)]
    if custom is not None:
        chosen.append(custom)
    out: list[Scenario] = []
    for scenario in chosen:
        count = messages
        if count is None and quick:
            count = max(scenario.pairs, scenario.messages // 5)
        out.append(scenario.adjusted(messages=count, rate=rate))
    return out
