"""Where example agents get their words: a deterministic local responder by default,
an OpenAI chat model only when ``OPENAI_API_KEY`` is set (environment or ``.env`` of
the working directory).

The local responder answers from a small keyword table, so the examples run
offline, give the same output every time and need no key.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

__all__ = ["LocalResponder", "OpenAIResponder", "Responder", "make_responder"]


class Responder(Protocol):
    """Turns a question into an answer."""

    name: str

    async def answer(self, question: str) -> str:
        """The answer to `question`."""
        ...


class LocalResponder:
    """Answers from keyword → answer rules; the first rule whose keyword occurs wins."""

    name = "local"

    def __init__(self, rules: Mapping[str, str], fallback: str) -> None:
        self._rules = dict(rules)
        self._fallback = fallback

    async def answer(self, question: str) -> str:
        """The first matching rule's answer, else the fallback."""
        lowered = question.lower()
        for keyword, reply in self._rules.items():
            if keyword in lowered:
                return reply
        return self._fallback


class OpenAIResponder:
    """Asks an OpenAI chat model; used only when an API key is configured."""

    name = "openai"

    def __init__(self, api_key: str, system_prompt: str, model: str = "gpt-4o-mini") -> None:
        self._api_key = api_key
        self._system = system_prompt
        self._model = model

    def _ask(self, question: str) -> str:
        body = json.dumps(
            {
                "model": self._model,
                "messages": [
                    {"role": "system", "content": self._system},
                    {"role": "user", "content": question},
                ],
            }
        ).encode()
        request = urllib.request.Request(
            "https://api.openai.com/v1/chat/completions",
            data=body,
            headers={
                "Authorization": f"Bearer {self._api_key}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            reply = json.load(response)
        return str(reply["choices"][0]["message"]["content"]).strip()

    async def answer(self, question: str) -> str:
        """The model's answer (the HTTP call runs in a worker thread)."""
        return await asyncio.to_thread(self._ask, question)


def _api_key() -> str | None:
    key = os.environ.get("OPENAI_API_KEY")
    if key:
        return key
    env_file = Path(".env")  # of the working directory
    if env_file.is_file():
        for line in env_file.read_text(encoding="utf-8").splitlines():
            name, _, value = line.partition("=")
            if name.strip() == "OPENAI_API_KEY" and value.strip():
                return value.strip().strip("'\"")
    return None


def make_responder(rules: Mapping[str, str], fallback: str, system_prompt: str) -> Responder:
    """An OpenAI responder when a key is configured, else the deterministic local one."""
    key = _api_key()
    if key:
        return OpenAIResponder(key, system_prompt)
    return LocalResponder(rules, fallback)
