"""How a consultation reads on a page: its phase in words, its opinion deadline, what it is collecting now.

Everything here reads what ``GET /api/instances/<id>`` shows any member of the community: the instance's status, its
data (the topic, the meeting, the outcome), its open tasks (with their ``collects`` property) and its timers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from engine.identity.actors import zone
from engine.kernel.errors import InvalidInput
from engine.kernel.models import HumanTask, Instance
from engine.kernel.preconditions import COLLECTS_PROPERTY

KEY = "consultation"
"""The definition key of a consultation's process (``processes/consultation.bpmn``)."""


@dataclass(frozen=True)
class Phase:
    code: str
    label: Any
    hint: Any


PHASES = {phase.code: phase for phase in (
    Phase("drafting", _l("Being prepared"), _l("The committee is writing the topic. It is not open for opinions yet.")),
    Phase("open", _l("Open for opinions"), _l("Give your opinion before the deadline. Only you and the committee can read it.")),
    Phase("deliberation", _l("Under deliberation"),
          _l("The opinion period is over. The committee is meeting to discuss the opinions.")),
    Phase("answering", _l("Opinions being answered"), _l("The committee is answering every opinion, one by one.")),
    Phase("answered", _l("Answered"), _l("Every opinion has its answer. The committee will publish the outcome soon.")),
    Phase("published", _l("Outcome published"), _l("The consultation is finished. Read the outcome below.")),
    Phase("paused", _l("Paused"), _l("The consultation is paused by a technical problem. The committee has been told.")),
)}
TASK_PHASES = {"draft_topic": "drafting", "opinion_period": "open", "record_deliberation": "deliberation",
               "answer_opinions": "answering", "publish_outcome": "answered"}
"""The phase each user task of the consultation process stands for, while it is open."""
TASK_LABELS = {
    "draft_topic": _l("Draft the topic"),
    "opinion_period": _l("Close the opinion period early (only if needed)"),
    "record_deliberation": _l("Record the deliberation meeting"),
    "answer_opinions": _l("Confirm that every opinion is answered"),
    "publish_outcome": _l("Publish the outcome"),
}
"""What the committee does in each user task, in words (the BPMN's names are English only)."""


def task_label(task: HumanTask) -> str:
    label = TASK_LABELS.get(task.element_id)
    return str(label) if label is not None else task.name


def open_tasks(instance: Instance) -> list[HumanTask]:
    return [task for task in instance.tasks if task.state == "READY"]


def collecting(instance: Instance, what: str) -> bool:
    """Whether an open task of the running instance collects ``what`` (``opinions``, ``opinion_answers``)."""
    return instance.status == "running" and any(task.properties.get(COLLECTS_PROPERTY) == what for task in open_tasks(instance))


def phase_of(instance: Instance) -> Phase:
    if instance.status == "completed":
        return PHASES["published"]
    if instance.status != "running":
        return PHASES["paused"]
    for task in open_tasks(instance):
        if task.element_id in TASK_PHASES:
            return PHASES[TASK_PHASES[task.element_id]]
    return PHASES["deliberation"]


def deadline_of(instance: Instance) -> datetime | None:
    """When the opinion period closes by itself: its pending timer, else the deadline the topic gives (read in the
    instance's time zone when it carries no offset); None before the topic is written."""
    for timer in instance.timers:
        if timer.element_id == "opinion_deadline_reached":
            return timer.due_at
    written = (instance.data or {}).get("opinion_deadline")
    if not isinstance(written, str):
        return None
    try:
        moment = datetime.fromisoformat(written)
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone(instance.timezone))
    except (ValueError, InvalidInput):
        return None


def text_list(value: Any) -> list[str]:
    """A list of names or decisions from the instance's data, as strings (nothing when it is not a list)."""
    return [str(item) for item in value] if isinstance(value, list) else []
