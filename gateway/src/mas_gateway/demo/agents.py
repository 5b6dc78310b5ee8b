"""The agents of the healthcare consultation system.

Routes (see ``policies/``): patient → doctor (consultation), doctor → specialist
(referral), and the replies. A patient may not write to the specialist directly,
and the external analytics agent may not reach clinicians at all.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from mas import Agent, AgentMessage

from .responders import Responder, make_responder

__all__ = [
    "ConsultationRequest",
    "DoctorAgent",
    "ExternalAnalyticsAgent",
    "PatientAgent",
    "ReferralRequest",
    "SpecialistAgent",
]

DISCLAIMER = "This is general information, not a diagnosis."

DOCTOR_RULES = {
    "cough": "A cough lasting under three weeks is usually viral: rest, fluids, and see us "
    "if you get a fever above 38.5 °C or shortness of breath.",
    "headache": "Most headaches respond to rest, water and paracetamol; sudden severe "
    "headaches need urgent care.",
    "chest": "Chest pain needs a cardiac opinion; I have asked our cardiologist.",
    "rash": "Keep the area clean and dry; I have asked our dermatologist to look.",
}
SPECIALIST_RULES = {
    "chest": "Cardiology: arrange an ECG and troponin test today; avoid exertion until seen.",
    "rash": "Dermatology: likely contact dermatitis; a mild steroid cream for a week.",
}
REFERRAL_KEYWORDS = ("chest", "rash")


class ConsultationRequest(BaseModel):
    """What a patient asks the doctor."""

    question: str = Field(min_length=1, max_length=4000)
    patient_name: str = ""


class ReferralRequest(BaseModel):
    """What the doctor asks the specialist."""

    question: str = Field(min_length=1, max_length=4000)
    summary: str = ""


class PatientState(BaseModel):
    """What the patient remembers."""

    questions_asked: int = 0
    last_answer: str = ""


class DoctorState(BaseModel):
    """What the doctor counts."""

    consultations: int = 0
    referrals: int = 0


class SpecialistState(BaseModel):
    """What the specialist counts."""

    referrals_answered: int = 0


class PatientAgent(Agent[PatientState]):
    """Asks the doctor questions."""

    def __init__(self, agent_id: str = "patient", **kwargs: Any) -> None:
        super().__init__(agent_id, capabilities=["patient"], state_model=PatientState, **kwargs)

    async def consult(self, question: str, *, name: str = "", timeout: float = 15.0) -> str:
        """Ask the doctor and wait for the answer."""
        reply = await self.request(
            "doctor",
            "consultation.request",
            {"question": question, "patient_name": name},
            timeout=timeout,
        )
        answer = str(reply.data.get("answer", ""))
        await self.update_state(
            {"questions_asked": self.state.questions_asked + 1, "last_answer": answer}
        )
        return answer


class DoctorAgent(Agent[DoctorState]):
    """Answers patients, and refers chest and skin questions to the specialist."""

    def __init__(
        self, agent_id: str = "doctor", *, responder: Responder | None = None, **kwargs: Any
    ) -> None:
        super().__init__(
            agent_id, capabilities=["diagnosis", "triage"], state_model=DoctorState, **kwargs
        )
        self.refused: list[tuple[int, str]] = []
        self.refusal = asyncio.Event()
        self.responder = responder or make_responder(
            DOCTOR_RULES,
            "Thanks for your question; please book an appointment so we can examine you.",
            "You are a careful general practitioner. Answer briefly. " + DISCLAIMER,
        )

    async def on_rejected(self, notice: AgentMessage) -> None:
        """Remember what the gateway refused of what this doctor sent (e.g. DLP blocks)."""
        self.refused.append((int(notice.data.get("code", 0)), str(notice.data.get("reason", ""))))
        self.refusal.set()

    @Agent.on("consultation.request", model=ConsultationRequest)
    async def handle_consultation(
        self, message: AgentMessage, payload: ConsultationRequest
    ) -> None:
        """Answer, consulting the specialist first when the question needs one."""
        answer = await self.responder.answer(payload.question)
        specialist_note = ""
        if any(word in payload.question.lower() for word in REFERRAL_KEYWORDS):
            referral = await self.request(
                "specialist",
                "referral.request",
                {"question": payload.question, "summary": "referred by the GP"},
                timeout=15.0,
            )
            specialist_note = str(referral.data.get("opinion", ""))
            await self.update_state({"referrals": self.state.referrals + 1})
        await self.update_state({"consultations": self.state.consultations + 1})
        await message.reply(
            "consultation.response",
            {"answer": answer, "specialist": specialist_note, "disclaimer": DISCLAIMER},
        )


class SpecialistAgent(Agent[SpecialistState]):
    """Gives specialist opinions to the doctor."""

    def __init__(
        self, agent_id: str = "specialist", *, responder: Responder | None = None, **kwargs: Any
    ) -> None:
        super().__init__(
            agent_id,
            capabilities=["cardiology", "dermatology"],
            state_model=SpecialistState,
            **kwargs,
        )
        self.responder = responder or make_responder(
            SPECIALIST_RULES,
            "Specialist: no specific concern; continue with the GP's plan.",
            "You are a hospital specialist advising a GP. Answer in two sentences.",
        )

    @Agent.on("referral.request", model=ReferralRequest)
    async def handle_referral(self, message: AgentMessage, payload: ReferralRequest) -> None:
        """Give an opinion on a referral."""
        opinion = await self.responder.answer(payload.question)
        await self.update_state({"referrals_answered": self.state.referrals_answered + 1})
        await message.reply("referral.response", {"opinion": opinion})


class ExternalAnalyticsAgent(Agent):
    """A third-party analytics service: it may receive de-identified data only."""

    def __init__(self, agent_id: str = "external-analytics", **kwargs: Any) -> None:
        super().__init__(agent_id, capabilities=["analytics"], **kwargs)
        self.received: list[dict[str, Any]] = []

    async def on_message(self, message: AgentMessage) -> None:
        """Keep what arrives (already checked and possibly redacted by the gateway)."""
        self.received.append(dict(message.data))
