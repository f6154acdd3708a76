"""The follow-up task state machine: every state change goes through ``transition``.

Task transitions are operational, not health data, so they are not written to the audit ledger;
the dialer makes hundreds a second and the ledger serializes its writers.
"""

from __future__ import annotations

from datetime import datetime

from callcenter.errors import InvalidTaskTransition
from callcenter.models import Campaign, FollowUpTask, TaskState, utcnow

S = TaskState
TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    # A task can fail before any dial: the trunk cannot reach the number, attempts used up.
    S.PENDING: frozenset({S.SCHEDULED, S.DIALING, S.CANCELLED, S.FAILED}),
    S.SCHEDULED: frozenset({S.DIALING, S.PENDING, S.CANCELLED, S.FAILED}),
    S.DIALING: frozenset({S.IN_CALL, S.RETRY_SCHEDULED, S.FAILED, S.COMPLETED, S.CANCELLED}),
    S.IN_CALL: frozenset({S.COMPLETED, S.RETRY_SCHEDULED, S.FAILED}),
    S.RETRY_SCHEDULED: frozenset({S.DIALING, S.SCHEDULED, S.FAILED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}
FINAL_STATES = frozenset(state for state, nexts in TRANSITIONS.items() if not nexts)


def can_transition(current: TaskState, new: TaskState) -> bool:
    return new in TRANSITIONS[current]


def transition(
    task: FollowUpTask,
    new: TaskState,
    *,
    reason: str | None = None,
    due_at: datetime | None = None,
) -> FollowUpTask:
    """Move ``task`` to ``new`` or raise InvalidTaskTransition naming both states."""
    old = task.state
    if not can_transition(old, new):
        raise InvalidTaskTransition(
            f"task {task.id} cannot go from {old} to {new}",
            {"task_id": task.id, "from": str(old), "to": str(new)},
        )
    task.state = new
    task.state_changed_at = utcnow()
    if due_at is not None:
        task.due_at = due_at
    if new is S.DIALING:
        task.attempts += 1
    if new is S.FAILED and reason:
        task.failure_reason = reason
    return task


def retry_or_fail(task: FollowUpTask, campaign: Campaign, cause: str, now: datetime) -> None:
    """Schedule the next attempt as the campaign's retry policy says for ``cause``, or fail."""
    from callcenter.telephony.policy import retry_decision

    decision = retry_decision(campaign, task.attempts, cause, now)
    if decision.retry:
        transition(task, S.RETRY_SCHEDULED, reason=decision.reason, due_at=decision.due_at)
    else:
        transition(task, S.FAILED, reason=decision.reason)
