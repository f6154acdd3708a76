import pytest

from callcenter.errors import InvalidTaskTransition
from callcenter.models import FollowUpTask, TaskState
from callcenter.services.tasks import FINAL_STATES, TRANSITIONS, can_transition, transition

S = TaskState


def make(state: TaskState) -> FollowUpTask:
    return FollowUpTask(id=1, state=state, attempts=0)


def test_a_call_that_is_answered_and_completed():
    task = make(S.PENDING)
    for state in (S.SCHEDULED, S.DIALING, S.IN_CALL, S.COMPLETED):
        transition(task, state)
    assert task.state is S.COMPLETED and task.attempts == 1


def test_retries_count_attempts():
    task = make(S.PENDING)
    transition(task, S.DIALING)
    transition(task, S.RETRY_SCHEDULED, reason="USER_BUSY")
    transition(task, S.DIALING)
    transition(task, S.FAILED, reason="max attempts reached")
    assert task.attempts == 2
    assert task.failure_reason == "max attempts reached"


@pytest.mark.parametrize("final", sorted(FINAL_STATES))
def test_final_states_are_final(final):
    assert final in {S.COMPLETED, S.FAILED, S.CANCELLED}
    for target in TaskState:
        assert not can_transition(final, target)


def test_an_invalid_transition_names_both_states():
    task = make(S.PENDING)
    with pytest.raises(InvalidTaskTransition) as info:
        transition(task, S.COMPLETED)
    assert info.value.details == {"task_id": 1, "from": "pending", "to": "completed"}
    assert task.state is S.PENDING


def test_every_state_has_a_rule():
    assert set(TRANSITIONS) == set(TaskState)
    # Every non-final state can still end somehow, so no task is stuck forever.
    for state, targets in TRANSITIONS.items():
        assert state in FINAL_STATES or targets & (FINAL_STATES | {S.DIALING})
