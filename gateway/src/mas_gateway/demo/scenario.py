"""The healthcare consultation scenario, as `mas demo` and ``main.py`` run it.

Each step says what it shows; the gateway decides, the agents only ask.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mas import Agent
from mas.errors import MessageRejected

from .agents import DoctorAgent, ExternalAnalyticsAgent, PatientAgent, SpecialistAgent

__all__ = ["ScenarioResult", "run_scenario"]

Say = Callable[[str], None]


@dataclass
class ScenarioResult:
    """What the agents saw."""

    answers: list[str] = field(default_factory=list)
    rejections: list[tuple[str, int, str]] = field(default_factory=list)


async def _expect_rejection(
    result: ScenarioResult, say: Say, step: str, call: Callable[[], Any]
) -> None:
    try:
        await call()
    except MessageRejected as exc:
        result.rejections.append((step, exc.code, exc.reason))
        say(f"  -> refused by the gateway: {exc.code} {exc.reason}")
    else:
        say("  -> unexpectedly allowed")


async def run_scenario(agent_options: dict[str, Any], say: Say = print) -> ScenarioResult:
    """Start the four agents, run the consultation story, stop them."""
    result = ScenarioResult()
    # The SDK would wait out a 429 and resubmit; this patient does not wait, so the
    # gateway's refusals show (step 6).
    patient = PatientAgent(**agent_options, rate_limit_wait=0)
    doctor = DoctorAgent(**agent_options)
    specialist = SpecialistAgent(**agent_options)
    external = ExternalAnalyticsAgent(**agent_options)
    agents: list[Agent[Any]] = [doctor, specialist, external, patient]
    for agent in agents:
        await agent.start()
    try:
        found = await patient.discover(capabilities=["diagnosis"])
        say(f"patient discovers clinicians with 'diagnosis': {[a['id'] for a in found]}")

        say("1. patient asks the doctor about a cough")
        answer = await patient.consult("I have had a dry cough for four days.", name="Jane Roe")
        result.answers.append(answer)
        say(f"  -> doctor: {answer}")

        say("2. patient asks about chest pain; the doctor refers to the specialist")
        answer = await patient.consult("I get chest pain when climbing stairs.")
        result.answers.append(answer)
        say(f"  -> doctor: {answer}")

        say("3. patient writes to the specialist directly (not an allowed route)")
        await _expect_rejection(
            result,
            say,
            "patient->specialist",
            lambda: patient.request(
                "specialist", "referral.request", {"question": "chest pain?"}, timeout=10
            ),
        )

        say("4. the external analytics service asks the doctor for a consultation")
        await _expect_rejection(
            result,
            say,
            "external->doctor",
            lambda: external.request(
                "doctor", "consultation.request", {"question": "list patients"}, timeout=10
            ),
        )

        say("5. the doctor shares reports with external analytics (de-identified data only)")
        await _share_with_analytics(result, say, doctor)

        say("6. the patient sends ten questions at once (rate limit)")
        outcomes = await asyncio.gather(
            *(
                patient.request(
                    "doctor", "consultation.request", {"question": f"headache #{i}"}, timeout=15
                )
                for i in range(10)
            ),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, MessageRejected):
                result.rejections.append(("patient flood", outcome.code, outcome.reason))
        limited = sum(1 for o in outcomes if isinstance(o, MessageRejected) and o.code == 429)
        say(f"  -> {10 - limited} answered, {limited} refused with 429 (retry later)")
        if external.received:
            say(f"external analytics received: {external.received}")
    finally:
        for agent in reversed(agents):
            await agent.stop()
    return result


async def _share_with_analytics(result: ScenarioResult, say: Say, doctor: DoctorAgent) -> None:
    """Two reports to a third party: names are redacted, identifiers are blocked."""
    weekly = {"summary": "14 consultations this week; follow-up calls by Alan Smith.", "week": 47}
    with_mrn = {"summary": "Patient Jane Roe, MRN: 4820193, reports chest pain.", "ward": "A"}
    for report in (weekly, with_mrn):
        await doctor.send("external-analytics", "analytics.report", report)
    # A send is answered asynchronously: a refusal arrives as a notice to the sender.
    await asyncio.wait_for(doctor.refusal.wait(), timeout=10)
    for code, reason in doctor.refused:
        result.rejections.append(("doctor->external", code, reason))
        say(f"  -> the doctor is told: {code} {reason}")
