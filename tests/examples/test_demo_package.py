"""The demo ships inside the gateway package; its policies are the repository's policies/."""

from __future__ import annotations

from pathlib import Path

import mas_gateway
from mas_gateway.demo import POLICIES
from mas_gateway.policy import PolicyStore

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_policies_are_package_data_linked_to_the_repository_policies() -> None:
    package = Path(mas_gateway.__file__).resolve().parent
    assert POLICIES.is_relative_to(package)  # the path the demo opens is inside the package
    assert POLICIES.resolve() == (REPO_ROOT / "policies").resolve()  # one copy of the files
    PolicyStore.load(POLICIES)  # a complete, valid policy set (ConfigError otherwise)


def test_the_demo_imports_nothing_from_the_checkout() -> None:
    sources = (Path(mas_gateway.__file__).resolve().parent / "demo").rglob("*.py")
    for source in sources:
        lines = source.read_text(encoding="utf-8").splitlines()
        imports = [line for line in lines if line.startswith(("from examples", "import examples"))]
        assert imports == [], source
