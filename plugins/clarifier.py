"""Clarifier agent: the Q and A of Q/A/V — asks a phase's decision-changing questions and
answers them from the run's artifacts and knowledge base. (V, the validator, is
deterministic and runs in the engine, so a model never grades its own answers.)

It serves every phase (``phase = "*"``) and is dispatched by the engine's Clarify step,
not by a phase plan.
"""

from __future__ import annotations

import json
from typing import Any

from ideamine import AgentContext, SchemaAgent, TaskDecl, TaskInfo, hookimpl
from ideamine.llm.prompting import data_block

QUESTIONS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "qav-questions",
    "description": "Open questions whose answers would change decisions in this phase's artifacts.",
    "additionalProperties": False,
    "required": ["questions"],
    "properties": {
        "questions": {
            "type": "array",
            "maxItems": 20,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "text", "blocking", "topic"],
                "properties": {
                    "id": {"type": "string", "pattern": "^q\\d{1,2}$"},
                    "text": {"type": "string", "minLength": 10, "maxLength": 400},
                    "blocking": {"type": "boolean"},
                    "topic": {"type": "string", "maxLength": 60},
                    "rationale": {"type": "string", "maxLength": 400},
                },
            },
        }
    },
}

ANSWERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "qav-answers",
    "description": "Answers to open questions, each grounded in quoted evidence from the run's artifacts.",
    "additionalProperties": False,
    "required": ["answers"],
    "properties": {
        "answers": {
            "type": "array",
            "maxItems": 20,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["question_code", "answer", "confidence", "evidence"],
                "properties": {
                    "question_code": {"type": "string", "pattern": "^Q-\\d{3}$"},
                    "answer": {"type": "string", "maxLength": 1200},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    "evidence": {
                        "type": "array",
                        "maxItems": 5,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["source", "quote"],
                            "properties": {
                                "source": {"type": "string", "maxLength": 80},
                                "quote": {"type": "string", "maxLength": 400},
                            },
                        },
                    },
                },
            },
        }
    },
}


class ClarifierAgent(SchemaAgent):
    """Asks and answers the open questions of any phase."""

    name = "clarifier"
    version = "1.0.0"
    phase = "*"
    tasks = {
        "clarify-questions": TaskDecl(produces=("qav-questions",)),
        "clarify-answers": TaskDecl(produces=("qav-answers",)),
    }
    schemas = {"qav-questions": QUESTIONS_SCHEMA, "qav-answers": ANSWERS_SCHEMA}
    role = (
        "You find the open questions whose answers would change decisions in a phase's artifacts, and you "
        "answer questions strictly from the evidence in the run's artifacts and earlier accepted answers. "
        "Quote your evidence verbatim; when the evidence does not settle a question, say so and give a low confidence."
    )
    instructions = {
        "clarify-questions": "List at most the allowed number of decision-changing open questions for this phase; "
        "mark a question blocking when the phase cannot be trusted without its answer.",
        "clarify-answers": "Answer each question with verbatim evidence quotes and a calibrated confidence from 0 to 1.",
    }

    def user_prompt(self, context: AgentContext, task: TaskInfo, artifact_type: str) -> str:
        """The base prompt plus the questions and limits the engine sent."""
        qav = {
            k: context.task_input[k]
            for k in ("qav_phase", "max_questions", "questions")
            if k in context.task_input
        }
        return super().user_prompt(context, task, artifact_type) + "\n\n" + data_block("qav", json.dumps(qav))

    def request_context(self, context: AgentContext, task: TaskInfo) -> dict[str, Any]:
        """The base context plus the Q/A/V inputs (what the offline model reads)."""
        ctx = super().request_context(context, task)
        ctx["qav"] = {
            k: v for k, v in context.task_input.items() if k in ("qav_phase", "max_questions", "questions")
        }
        return ctx


@hookimpl
def ideamine_register_agents() -> list[type[Any]]:
    """Register the clarifier agent."""
    return [ClarifierAgent]
