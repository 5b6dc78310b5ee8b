"""Synthetic agent traffic for benchmarks: realistic payload shapes, every message unique.

Clean messages are tutoring, scheduling and operations chatter (numbers, dates,
versions, ids that are not personal data); sensitive ones carry names, contact
details, identifiers, health data, cards or secrets. Values are random, so no two
messages are equal and a scan cache cannot hide the cost of scanning.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from typing import Any

__all__ = ["clean_messages", "mixed_messages"]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST = _words(
    "Amara Bruno Carmen Diego Elif Farah Goran Hana Ivan Jonas Kenji Leila Mateo Nadia "
    "Oskar Paula Quentin Rosa Stefan Tamar Umar Vera Wendell Ximena Yara Zoltan Ingrid "
    "Malik Sunita Teodor"
)
_LAST = _words(
    "Abbott Brennan Castillo Dietrich Eriksen Fonseca Gallagher Haddad Iqbal Jovanovic "
    "Kowalski Lindqvist Moreau Novak Okafor Petrov Quinlan Rahman Sato Tanaka Ueda Varga "
    "Whitaker Yilmaz Zimmerman Hoffmann Mendoza Kapoor Lindgren"
)
_TOPICS = (
    "buffer solutions",
    "Le Chatelier's principle",
    "enthalpy of formation",
    "molar mass of sucrose",
    "reaction kinetics",
    "electron configuration of iron",
    "ideal gas law",
    "oxidation states",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _luhn_complete(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + _digits(rng, length - len(prefix) - 1)
    total = 0
    for i, ch in enumerate(reversed(body)):
        n = int(ch)
        if i % 2 == 0:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return body + str((10 - total % 10) % 10)


def _name(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def _clean_text(rng: random.Random) -> str:
    templates: list[Callable[[], str]] = [
        lambda: f"Can you explain {rng.choice(_TOPICS)}? I got {rng.uniform(1, 99):.2f} g/mol.",
        lambda: (
            f"Lab {rng.randint(1, 40)} moved to {rng.choice(_DAYS)} at {rng.randint(8, 17)}:30 "
            f"in room {rng.randint(100, 450)}."
        ),
        lambda: (
            f"Deploy {rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)} finished in "
            f"{rng.randint(20, 900)} s; queue depth {rng.randint(0, 999)}."
        ),
        lambda: (
            f"Order ORD-{_digits(rng, 7)} ships on 2025-{rng.randint(1, 12):02d}-"
            f"{rng.randint(1, 28):02d}, tracking 1Z{_digits(rng, 16)}."
        ),
        lambda: (
            f"The answer to question {rng.randint(1, 30)} is {rng.uniform(0, 14):.2f} "
            f"(pH of a {rng.uniform(0.001, 1):.3f} M solution)."
        ),
        lambda: (
            f"Reminder: quiz {rng.randint(1, 12)} covers {rng.choice(_TOPICS)} and "
            f"{rng.choice(_TOPICS)}; bring a calculator."
        ),
        lambda: (
            f"Job {_digits(rng, 6)} processed {rng.randint(1, 5000)} rows in "
            f"{rng.randint(1, 999)} ms with 0 errors."
        ),
    ]
    return rng.choice(templates)()


def _sensitive_text(rng: random.Random) -> str:
    name = _name(rng)
    user = name.lower().replace(" ", ".")
    templates: list[Callable[[], str]] = [
        lambda: (
            f"Please call {name} back at ({rng.randint(201, 989)}) {rng.randint(201, 989)}-"
            f"{_digits(rng, 4)} about the appointment."
        ),
        lambda: f"Patient {name}, MRN {_digits(rng, 8)}, was seen for follow-up today.",
        lambda: f"Send the report to {user}@clinic-{rng.randint(1, 99)}.example.org before noon.",
        lambda: f"Refund card {_luhn_complete(rng, '4', 16)} for order ORD-{_digits(rng, 7)}.",
        lambda: (
            f"Employee {name} updated the SSN on file to {rng.randint(100, 665)}-"
            f"{rng.randint(10, 99)}-{rng.randint(1000, 9999)}."
        ),
        lambda: f"Deploy key for {user}: ghp_{''.join(rng.choices(string.ascii_letters, k=36))}",
        lambda: (
            f"{name}, date of birth 19{rng.randint(40, 99)}-{rng.randint(1, 12):02d}-"
            f"{rng.randint(1, 28):02d}, asked about the results."
        ),
    ]
    return rng.choice(templates)()


def _shape(rng: random.Random, text: str, index: int) -> dict[str, Any]:
    shapes: list[Callable[[], dict[str, Any]]] = [
        lambda: {"messages": [{"role": "user", "content": text}]},
        lambda: {"task": "relay", "payload": {"body": text, "priority": "normal"}},
        lambda: {"type": "chat", "data": {"text": text, "lang": "en"}, "seq": index},
        lambda: {"from_agent": f"agent-{rng.randint(1, 9)}", "content": text, "id": index},
        lambda: {"question": text, "course": f"CHEM {rng.randint(100, 300)}", "attempt": index},
    ]
    return rng.choice(shapes)()


def clean_messages(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """`count` distinct payloads with no sensitive data."""
    rng = random.Random(seed)
    return [_shape(rng, _clean_text(rng), i) for i in range(count)]


def mixed_messages(count: int, seed: int = 7, sensitive_share: float = 0.3) -> list[dict[str, Any]]:
    """`count` distinct payloads, about `sensitive_share` of them with sensitive data."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(count):
        text = _sensitive_text(rng) if rng.random() < sensitive_share else _clean_text(rng)
        out.append(_shape(rng, text, i))
    return out
