"""Run the chemistry tutoring example: ``python -m examples.chemistry_tutoring``."""

from __future__ import annotations

import asyncio
import logging

from mas_gateway.devstack import DevStack

from .agents import ProfessorAgent, StudentAgent

QUESTIONS = [
    ("How do I balance Fe + O2 -> Fe2O3?", "stoichiometry"),
    ("What is a mole?", "basics"),
    ("What is the pH of 0.01 M HCl?", "acids"),
]


async def main() -> None:
    """Start a local stack, a professor and a student; ask three questions."""
    async with DevStack() as stack:
        professor = ProfessorAgent(**stack.agent_options())
        student = StudentAgent(**stack.agent_options())
        await professor.start()
        await student.start()
        try:
            for question, topic in QUESTIONS:
                print(f"student: {question}")
                print(f"professor: {await student.ask(question, topic)}")
        finally:
            await student.stop()
            await professor.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())
