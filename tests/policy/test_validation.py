"""Invalid policy files are refused with errors that name the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from mas.errors import ConfigError
from mas_gateway.policy import PolicyError, load_policy_set

from .conftest import line_of, replace_line


def problems(policies: Path) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy_set(policies)
    assert isinstance(caught.value, ConfigError)
    return [str(issue) for issue in caught.value.issues]


def test_repository_policy_is_valid_and_clean(policies: Path) -> None:
    policy = load_policy_set(policies)
    assert policy.warnings == ()
    assert len(policy.rules) >= 10
    assert len(policy.test_cases) >= 15


def test_unknown_effect_names_file_and_line(policies: Path) -> None:
    old = "p, doctor, patients, consultation.response, allow"
    line = line_of(policies / "policy.csv", old)
    replace_line(policies / "policy.csv", old, old.replace("allow", "alow"))
    assert problems(policies) == [
        f"{policies}/policy.csv:{line}: unknown effect 'alow'; "
        "expected allow, deny, shadow-allow, shadow-deny"
    ]


def test_csv_shape_and_names(policies: Path) -> None:
    csv = policies / "policy.csv"
    csv.write_text(
        "# header\n"
        "p, patient, doctors, consultation.request\n"
        "p, pat ient, doctors, x, allow\n"
        "g, a, b\n"
        "p, patient, doctors, consult/ation, allow\n"
        "p, agent, *, mas.error, allow\n"
        "p, agent, *, mas.error, allow  # again\n"
    )
    assert problems(policies) == [
        f"{csv}:2: expected 'p, subject, target, message_type, effect', got 3 values",
        f"{csv}:3: subject 'pat ient' is not a valid name "
        "(letters, digits, '_', '.', '-'; at most 128)",
        f"{csv}:4: g lines belong in roles.csv",
        f"{csv}:5: message type pattern 'consult/ation' has characters not allowed",
        f"{csv}:7: duplicate of line 6",
    ]


def test_roles_csv_errors(policies: Path) -> None:
    roles = policies / "roles.csv"
    roles.write_text(
        "g, a, b\ng, b, c\ng, c, a\ng2, x\ng, patient, agent\np, a, b, c, allow\nh, a, b\n"
    )
    found = problems(policies)
    assert f"{roles}:4: expected 'g2, target, group', got 1 value" in found
    assert any(line.startswith(f"{roles}:5: the base role 'agent' is implicit") for line in found)
    assert f"{roles}:6: p lines belong in policy.csv" in found
    assert f"{roles}:7: unknown line type 'h'; expected 'g' or 'g2'" in found
    assert f"{roles}:3: g, c, a closes a cycle: a is below c" in found


def test_role_chain_too_long(policies: Path) -> None:
    roles = policies / "roles.csv"
    roles.write_text("".join(f"g, r{i}, r{i + 1}\n" for i in range(12)))
    found = problems(policies)
    assert found and all("makes a chain of more than 8 links" in line for line in found)
    assert all(line.startswith(f"{roles}:") for line in found)


def test_model_must_keep_deny_override(policies: Path) -> None:
    model = policies / "model.conf"
    old = "e = some(where (p.eft == allow)) && !some(where (p.eft == deny))"
    line = line_of(model, old)
    replace_line(model, old, "e = some(where (p.eft == allow))")
    [problem] = problems(policies)
    assert problem.startswith(f"{model}:{line}: e must be ")
    assert "explicit deny overrides any allow" in problem


def test_model_matcher_errors(policies: Path) -> None:
    model = policies / "model.conf"
    old = next(line for line in model.read_text().splitlines() if line.startswith("m = "))
    line = line_of(model, old)
    replace_line(model, old, "m = g(r.sub, p.sub) && (")
    assert problems(policies) == [
        f"{model}:{line}: matcher is not a valid expression: '(' was never closed"
    ]
    replace_line(model, "m = g(r.sub, p.sub) && (", "m = g(r.sub, p.sub) && evil(r.act)")
    assert problems(policies)[0].startswith(f"{model}:{line}: unknown matcher function 'evil'")
    replace_line(model, "m = g(r.sub, p.sub) && evil(r.act)", "m = g(r.sub, p.sub) && r.time")
    assert problems(policies) == [
        f"{model}:{line}: unknown name 'r.time' in matcher; use r.sub/obj/act, p.sub/obj/act"
    ]


def test_model_structure_errors(policies: Path) -> None:
    model = policies / "model.conf"
    model.write_text(
        "[request_definition]\n"
        "r = sub, obj\n"
        "[policy_definition]\n"
        "p = sub, obj, act, eft\n"
        "[whatever]\n"
        "x = y\n"
        "not a definition\n"
    )
    found = problems(policies)
    assert (
        f"{model}:2: r must be 'sub, obj, act' "
        "(requests are (sender, target, message_type)), got 'sub, obj'"
    ) in found
    assert any(line.startswith(f"{model}:5: unknown section [whatever]") for line in found)
    assert f"{model}:7: expected 'key = value', got 'not a definition'" in found
    assert f"{model}: missing section [matchers]" in found


def test_ratelimits_errors(policies: Path) -> None:
    limits = policies / "ratelimits.yaml"
    limits.write_text(
        "default:\n"
        "  rate: 10\n"
        "  burst: 20\n"
        "roles:\n"
        "  patient:\n"
        "    rate: -1\n"
        "    burst: 5\n"
        "  doctor: {rate: 5, burst: 0.5, extra: 1}\n"
        "limits: {}\n"
    )
    assert problems(policies) == [
        f"{limits}:9: unknown key 'limits'; expected default, roles",
        f"{limits}:6: patient: 'rate' must be a number of tokens per second > 0",
        f"{limits}:8: doctor: unknown key 'extra' (use rate, burst)",
        f"{limits}:8: doctor: 'burst' must be a number >= 1",
    ]


def test_yaml_syntax_error_names_the_line(policies: Path) -> None:
    limits = policies / "ratelimits.yaml"
    limits.write_text("default:\n  rate: 1\n  burst: [2\nroles: {}\n")
    [problem] = problems(policies)
    assert problem.startswith(f"{limits}:4: invalid YAML")


def test_test_case_errors(policies: Path) -> None:
    cases = policies / "tests" / "extra.yaml"
    cases.write_text(
        "cases:\n"
        "  - from: patient\n"
        "    to: doctor\n"
        "    type: consultation.request\n"
        "    expect: maybe\n"
        "  - from: patient\n"
        "    to: doctor\n"
        "    typo: x\n"
        "    expect: deny\n"
        "  - from: patient\n"
        "    from: doctor\n"
    )
    assert problems(policies) == [f"{cases}:11: invalid YAML: key 'from' repeats line 10"]
    cases.write_text("\n".join(cases.read_text().splitlines()[:-1]) + "\n")
    found = problems(policies)
    assert f"{cases}:5: 'expect' must be allow or deny, got 'maybe'" in found
    assert (
        f"{cases}:8: unknown key 'typo'; "
        "expected name, from, to, type, roles, payload, expect, dlp_action"
    ) in found
    assert f"{cases}:6: 'type' must be a message type, got None" in found
    assert f"{cases}:10: 'to' must be an agent id, got None" in found


def test_missing_files_and_directory(policies: Path, tmp_path: Path) -> None:
    (policies / "roles.csv").unlink()
    assert problems(policies) == [f"{policies}/roles.csv: required file is missing"]
    assert problems(tmp_path / "nowhere") == [f"{tmp_path}/nowhere: policies directory not found"]


def test_invalid_utf8_names_the_line(policies: Path) -> None:
    (policies / "policy.csv").write_bytes(b"# ok\np, agent, *, mas.error, allow\n# \xff\n")
    assert problems(policies) == [f"{policies}/policy.csv:3: not valid UTF-8"]


def test_every_problem_is_reported_at_once(policies: Path) -> None:
    (policies / "policy.csv").write_text("p, a, b, c, nope\n")
    (policies / "roles.csv").write_text("g, a\n")
    (policies / "ratelimits.yaml").write_text("roles: {}\n")
    found = problems(policies)
    assert [line.split(":")[0].rsplit("/", 1)[-1] for line in found] == [
        "policy.csv",
        "roles.csv",
        "ratelimits.yaml",
    ]


def test_warnings_for_names_roles_csv_never_mentions(policies: Path) -> None:
    csv = policies / "policy.csv"
    csv.write_text(csv.read_text() + "p, clincian, patinets, x.y, allow\n")
    line = len(csv.read_text().splitlines())
    policy = load_policy_set(policies)
    assert [str(w) for w in policy.warnings] == [
        f"{csv}:{line}: warning: subject 'clincian' is in no g line of roles.csv; it only "
        "matches an agent with that id or a role set in the registry",
        f"{csv}:{line}: warning: target 'patinets' is in no g2 line of roles.csv; it only "
        "matches an agent with that id",
    ]
