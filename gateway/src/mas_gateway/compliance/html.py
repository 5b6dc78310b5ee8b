"""Render the report document as one self-contained HTML page.

Everything is inline: the stylesheet, the report data (a JSON script element) and the
script that draws the charts as SVG from that data. A Content-Security-Policy allows
only those exact inline blocks (by SHA-256), so the page loads nothing from anywhere
and works offline. Tables are rendered here too, so the page reads without scripts.
"""

from __future__ import annotations

import base64
import hashlib
import json
from html import escape
from importlib.resources import files
from typing import Any

__all__ = ["render_html", "script_json"]

_ASSETS = files("mas_gateway.compliance")
_CHARTS = (
    ("timeline", "Decisions over time", "decisions"),
    ("denials", "Denials by rule", "denied decisions"),
    ("dlp", "DLP findings by entity type", "findings"),
)


def _asset(name: str) -> str:
    return _ASSETS.joinpath(name).read_text(encoding="utf-8")


def script_json(document: Any) -> str:
    """JSON safe to embed in a script element (no `<`, `>` or `&` that could end it)."""
    text = json.dumps(document, indent=1, ensure_ascii=False, sort_keys=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _digest(text: str) -> str:
    return (
        "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"
    )


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _status(status: str) -> str:
    return f'<span class="status {_e(status)}">{_e(status)}</span>'


def _table(headers: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cells) + "</tr>" for cells in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(value: Any, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<td{attr}>{_e(value)}</td>"


def _summary(doc: dict[str, Any]) -> str:
    summary = doc["summary"]
    audit = doc["audit_verification"]
    tests = doc["policy"]["tests"]
    cards = [
        ("Controls passing", f"{summary['pass']} / {summary['controls']}"),
        ("Controls failing", summary["fail"]),
        ("Need a person", summary["manual"]),
        ("Audit log", "verified" if audit["ok"] else "FAILED"),
        ("Policy tests", f"{tests['passed']} / {tests['total']}"),
        ("Decisions", doc["decisions"]["total"]),
    ]
    inner = "".join(
        f'<div class="card"><span class="muted">{_e(k)}</span><b>{_e(v)}</b></div>'
        for k, v in cards
    )
    return f'<div class="cards">{inner}</div>'


def _audit(doc: dict[str, Any]) -> str:
    audit = doc["audit_verification"]
    verdict = _status("pass" if audit["ok"] else "fail")
    lines = [
        f"<p>{verdict} {_e(audit['entries'])} entries ({_e(audit['archived'])} archived), "
        f"{_e(audit['checkpoints'])} signed checkpoints, tree size {_e(audit['tree_size'])}, "
        f"root <code>{_e(audit['root'] or '-')}</code>, "
        f"keys {_e(', '.join(audit['key_ids']) or '-')}</p>"
    ]
    if audit["findings"]:
        items = "".join(
            f"<li>{_e(f['message'])}"
            + (f" (entry #{_e(f['index'])})" if f.get("index") is not None else "")
            + "</li>"
            for f in audit["findings"]
        )
        lines.append(f"<ul>{items}</ul>")
    lines.extend(f'<p class="muted">note: {_e(note)}</p>' for note in audit["notes"])
    return "".join(lines)


def _controls(doc: dict[str, Any]) -> str:
    rows: list[list[str]] = []
    for control in doc["controls"]:
        rules = "".join(
            f"<li>{_status(r['status'])} <code>{_e(r['rule'])}</code>: {_e(r['reason'])}</li>"
            for r in control["rules"]
        )
        commands = "<br>".join(f"<code>{_e(c)}</code>" for c in control["evidence_commands"])
        gaps = (
            f'<p class="muted"><b>Partial:</b> {_e(control["gaps"])}</p>'
            if control["coverage"] == "partial"
            else ""
        )
        what = (
            f"<b>{_e(control['title'])}</b><p>{_e(control['mas'])}</p>{gaps}"
            "<details><summary>requirement and features</summary>"
            f"<p>{_e(control['requirement'])}</p>"
            f"<p>Features: {_e(', '.join(control['features']))}</p></details>"
        )
        rows.append(
            [
                f'<td class="mono">{_e(control["id"])}</td>',
                f"<td>{what}</td>",
                f'<td>{_status(control["status"])}<ul class="rules">{rules}</ul></td>',
                f"<td>{commands}</td>",
            ]
        )
    return _table(
        ["Control", "What MAS does", "Evidence status", "Evidence commands"], rows, "No controls."
    )


def _tests(doc: dict[str, Any]) -> str:
    policy = doc["policy"]
    parts: list[str] = []
    if policy["problems"]:
        items = "".join(f"<li>{_e(p)}</li>" for p in policy["problems"])
        parts.append(f"<p>{_status('fail')} the policy files are invalid:</p><ul>{items}</ul>")
    if policy["tests"]["error"]:
        parts.append(f"<p>{_status('fail')} {_e(policy['tests']['error'])}</p>")
    rows = [
        [
            _td(case["ref"], "mono"),
            _td(case["name"]),
            _td(f"{case['from']} -> {case['to']} {case['type']}", "mono"),
            _td(case["expect"]),
            _td(f"{case['actual']} ({case['rule']})"),
            f"<td>{_status('pass' if case['passed'] else 'fail')} "
            f"{_e('; '.join(case['differences'] + case['notes']))}</td>",
        ]
        for case in policy["tests"]["cases"]
    ]
    parts.append(
        _table(
            ["Case", "Name", "Request", "Expected", "Actual (rule)", "Result"],
            rows,
            "No policy test ran.",
        )
    )
    return "".join(parts)


def _history(doc: dict[str, Any]) -> str:
    from .period import iso

    rows = [
        [
            _td(iso(record["time"])),
            _td(record["version"][:16] + "...", "mono"),
            _td(record["gateway_id"]),
            "<td>"
            + "<br>".join(
                f"<code>{_e(f['path'])}</code> "
                f'<span class="mono muted">{_e(f["sha256"][:16])}...</span>'
                for f in record["files"]
            )
            + "</td>",
        ]
        for record in reversed(doc["policy_versions"])
    ]
    problems = "".join(f"<p>{_status('fail')} {_e(p)}</p>" for p in doc["policy_version_problems"])
    return problems + _table(
        ["In force since (UTC)", "Version", "Gateway", "Files (SHA-256)"],
        rows,
        "No gateway has recorded a policy version.",
    )


def _figure(kind: str, title: str, rows: list[list[str]], headers: list[str], what: str) -> str:
    table = _table(headers, rows, f"No {what} in the period.")
    return (
        f"<figure><figcaption>{_e(title)}</figcaption>"
        f'<div data-chart-host="{_e(kind)}" data-title="{_e(title)}"></div>'
        f"<details><summary>data</summary>{table}</details></figure>"
    )


def _charts(doc: dict[str, Any]) -> str:
    timeline = doc["decisions_over_time"]
    from .period import iso

    timeline_rows = [
        [_td(iso(b["start"]))] + [_td(b["counts"].get(d, 0), "num") for d in timeline["decisions"]]
        for b in timeline["buckets"]
        if any(b["counts"].values())
    ]
    denial_rows = [
        [_td(d["rule"], "mono"), _td(d["text"] or ""), _td(d["count"], "num")]
        for d in doc["denials_by_rule"]
    ]
    dlp_rows = [
        [
            _td(d["entity"], "mono"),
            _td(d["count"], "num"),
            _td(", ".join(f"{k} {v}" for k, v in d["messages_by_decision"].items())),
        ]
        for d in doc["dlp_findings_by_entity"]
    ]
    (k1, t1, w1), (k2, t2, w2), (k3, t3, w3) = _CHARTS
    return (
        _figure(k1, t1, timeline_rows, ["Bucket start (UTC)", *timeline["decisions"]], w1)
        + _figure(k2, t2, denial_rows, ["Rule", "Policy line", "Denials"], w2)
        + _figure(k3, t3, dlp_rows, ["Entity type", "Findings", "Messages by decision"], w3)
    )


def render_html(doc: dict[str, Any]) -> str:
    """The report page for a report document (see `report.build_report`)."""
    css = _asset("report.css")
    script = _asset("report.js")
    csp = (
        f"default-src 'none'; style-src {_digest(css)}; script-src {_digest(script)}; "
        "base-uri 'none'; form-action 'none'"
    )
    period = doc["period"]
    body = (
        f"<h1>MAS compliance report</h1>"
        f'<p class="muted">Period {_e(period["since"])} to {_e(period["until"])}; generated '
        f"{_e(doc['generated_at'])} from Redis {_e(doc['source']['redis'])} and "
        f"<code>{_e(doc['source']['policies'])}/</code>. The JSON twin (report.json) holds the "
        "same data.</p>"
        + _summary(doc)
        + "<h2>Activity</h2>"
        + _charts(doc)
        + "<h2>Controls</h2>"
        + _controls(doc)
        + "<h2>Audit log verification</h2>"
        + _audit(doc)
        + "<h2>Policy tests</h2>"
        + _tests(doc)
        + "<h2>Policy version history</h2>"
        + _history(doc)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>MAS compliance report</title>"
        f"<style>{css}</style></head><body>{body}"
        f'<script type="application/json" id="mas-report-data">{script_json(doc)}</script>'
        f"<script>{script}</script></body></html>\n"
    )
