"""Campaigns, their agents, and the follow-up tasks created in them."""

from __future__ import annotations

import copy

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from callcenter.errors import Conflict, InvalidInput, NotFound
from callcenter.models import (
    Campaign,
    CampaignAgent,
    FollowUpTask,
    Role,
    TaskState,
    Trunk,
    User,
)
from callcenter.models.campaign import DEFAULT_RETRY_DELAYS, DEFAULT_WINDOWS
from callcenter.services import audit, authz, patients
from callcenter.services.patients import Page


def _visible_campaigns(user: User):
    query = select(Campaign).options(selectinload(Campaign.agents))
    if authz.sees_all_patients(user):
        return query
    return query.where(
        Campaign.id.in_(select(CampaignAgent.campaign_id).where(CampaignAgent.user_id == user.id))
    )


def list_campaigns(session: Session, user: User, *, page: int, per_page: int) -> Page:
    query = _visible_campaigns(user)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = session.scalars(
        query.order_by(Campaign.created_at.desc(), Campaign.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total, page, per_page)


def get(session: Session, user: User, campaign_id: int) -> Campaign:
    campaign = session.scalar(_visible_campaigns(user).where(Campaign.id == campaign_id))
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found", {"campaign_id": campaign_id})
    return campaign


def _check_agents(session: Session, agent_ids: list[int]) -> list[int]:
    ids = sorted(set(agent_ids))
    if not ids:
        return ids
    found = set(session.scalars(select(User.id).where(User.id.in_(ids), User.role == Role.AGENT)))
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"not agents: {missing}", {"field": "agent_ids", "ids": missing})
    return ids


def _check_trunk(session: Session, trunk_id: int | None) -> int | None:
    if trunk_id is not None and session.get(Trunk, trunk_id) is None:
        raise InvalidInput(f"trunk {trunk_id} does not exist", {"field": "trunk_id"})
    return trunk_id


def create(session: Session, user: User, data: dict) -> Campaign:
    if session.scalar(select(Campaign.id).where(Campaign.name == data["name"])):
        raise Conflict(f"campaign {data['name']!r} already exists", {"field": "name"})
    campaign = Campaign(
        name=data["name"],
        kind=data["kind"],
        description=data.get("description", ""),
        calling_windows=data.get("calling_windows") or copy.deepcopy(DEFAULT_WINDOWS),
        retry_delays={**DEFAULT_RETRY_DELAYS, **(data.get("retry_delays") or {})},
        max_attempts=data.get("max_attempts", 3),
        question_script=data.get("question_script") or [],
        trunk_id=_check_trunk(session, data.get("trunk_id")),
        max_concurrent=data.get("max_concurrent", 10),
        calls_per_second=data.get("calls_per_second", 5.0),
        wrap_up_seconds=data.get("wrap_up_seconds", 30),
        created_by_id=user.id if user else None,
    )
    campaign.agents = [
        CampaignAgent(user_id=i) for i in _check_agents(session, data.get("agent_ids", []))
    ]
    session.add(campaign)
    session.flush()
    audit.append(
        session,
        audit.Actor.of(user),
        "campaign.create",
        "campaign",
        campaign.id,
        {"name": campaign.name, "kind": str(campaign.kind)},
    )
    return campaign


def set_agents(session: Session, user: User, campaign_id: int, agent_ids: list[int]) -> Campaign:
    campaign = get(session, user, campaign_id)
    campaign.agents = [CampaignAgent(user_id=i) for i in _check_agents(session, agent_ids)]
    audit.append(
        session,
        audit.Actor.of(user),
        "campaign.agents",
        "campaign",
        campaign.id,
        {"agent_ids": agent_ids},
    )
    return campaign


def create_task(session: Session, user: User, data: dict) -> FollowUpTask:
    campaign = get(session, user, data["campaign_id"])
    patient = patients.get_visible(session, user, data["patient_id"])
    agent_id = data.get("assigned_agent_id")
    if agent_id is not None:
        _check_agents(session, [agent_id])
    task = FollowUpTask(
        campaign_id=campaign.id,
        patient_id=patient.id,
        assigned_agent_id=agent_id,
        due_at=data.get("due_at"),
        priority=data.get("priority", 0),
        reason=data.get("reason", ""),
        state=TaskState.PENDING,
    )
    session.add(task)
    session.flush()
    return task


def _visible_tasks(user: User):
    query = select(FollowUpTask)
    if authz.sees_all_patients(user):
        return query
    return query.where(
        FollowUpTask.campaign_id.in_(
            select(CampaignAgent.campaign_id).where(CampaignAgent.user_id == user.id)
        )
    )


def list_tasks(
    session: Session,
    user: User,
    *,
    campaign_id=None,
    state=None,
    patient_id=None,
    page: int,
    per_page: int,
) -> Page:
    query = _visible_tasks(user)
    if campaign_id is not None:
        query = query.where(FollowUpTask.campaign_id == campaign_id)
    if state is not None:
        query = query.where(FollowUpTask.state == state)
    if patient_id is not None:
        query = query.where(FollowUpTask.patient_id == patient_id)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = session.scalars(
        query.order_by(FollowUpTask.id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total, page, per_page)


def get_task(session: Session, user: User, task_id: int) -> FollowUpTask:
    task = session.scalar(_visible_tasks(user).where(FollowUpTask.id == task_id))
    if task is None:
        raise NotFound(f"task {task_id} not found", {"task_id": task_id})
    return task
