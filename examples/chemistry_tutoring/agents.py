"""Student and professor agents; the professor is found by capability discovery."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mas import Agent, AgentMessage
from mas_gateway.demo.responders import Responder, make_responder

__all__ = ["ProfessorAgent", "Question", "StudentAgent"]

PROFESSOR_RULES = {
    "balance": "Balance atoms one element at a time: 4 Fe + 3 O2 -> 2 Fe2O3 has 4 Fe and "
    "6 O on each side.",
    "mole": "A mole is 6.022e23 particles; moles = mass / molar mass.",
    "ph": "pH = -log10[H+]; a 0.01 M strong acid has pH 2.",
    "oxidation": "Oxidation is loss of electrons, reduction is gain (OIL RIG).",
}


class Question(BaseModel):
    """A homework question."""

    question: str = Field(min_length=1, max_length=4000)
    topic: str = "general"


class StudentState(BaseModel):
    """What the student has learned."""

    questions: int = 0
    notes: list[str] = Field(default_factory=list)


class ProfessorState(BaseModel):
    """How much the professor has explained."""

    answered: int = 0


class StudentAgent(Agent[StudentState]):
    """Finds a professor and asks questions."""

    def __init__(self, agent_id: str = "student", **kwargs: Any) -> None:
        super().__init__(agent_id, capabilities=["learner"], state_model=StudentState, **kwargs)

    async def ask(self, question: str, topic: str = "general") -> str:
        """Ask the first professor found by discovery; remember the explanation."""
        professors = await self.discover(capabilities=["chemistry", "teaching"], match="all")
        if not professors:
            raise RuntimeError("no chemistry professor is online")
        reply = await self.request(
            professors[0]["id"], "question.ask", {"question": question, "topic": topic}, timeout=30
        )
        answer = str(reply.data["answer"])
        await self.update_state(
            {"questions": self.state.questions + 1, "notes": [*self.state.notes, answer]}
        )
        return answer


class ProfessorAgent(Agent[ProfessorState]):
    """Explains chemistry."""

    def __init__(
        self, agent_id: str = "professor", *, responder: Responder | None = None, **kwargs: Any
    ) -> None:
        super().__init__(
            agent_id,
            capabilities=["chemistry", "teaching"],
            state_model=ProfessorState,
            **kwargs,
        )
        self.responder = responder or make_responder(
            PROFESSOR_RULES,
            "Good question: start from the definitions and work through units carefully.",
            "You are a patient chemistry professor. Explain in three sentences.",
        )

    def get_metadata(self) -> dict[str, Any]:
        """Shown in discovery results."""
        return {"department": "chemistry", "responder": self.responder.name}

    @Agent.on("question.ask", model=Question)
    async def handle_question(self, message: AgentMessage, payload: Question) -> None:
        """Answer one question."""
        answer = await self.responder.answer(payload.question)
        await self.update_state({"answered": self.state.answered + 1})
        await message.reply("question.answer", {"answer": answer, "topic": payload.topic})
