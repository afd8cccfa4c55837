"""The router's decisions: owner, tier, reply mode, deadline and template.

Pure functions of a classified message and a policy, so a care lead's policy change
can be replayed on past traffic offline with exactly the service's behaviour.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from triage_router.policy import Conditions, KeywordSet, RoutingPolicy, Trigger, scanned_words, words
from triage_schemas.business_time import add_seconds
from triage_schemas.enums import Channel, Direction, ReplyMode, Tier
from triage_schemas.policy import Campaign
from triage_schemas.records import ClassifiedMessage, RoutedMessage, Routing

__all__ = ["Match", "find_keyword", "fired_triggers", "matches", "reply_mode", "route", "words"]


def find_keyword(text: str, keywords: Sequence[str]) -> str | None:
    """The first keyword (a word or phrase, 'refund*' = prefix) found in ``text``.

    Compiles ``keywords`` on every call: the router uses the set its policy compiled once.
    """
    return KeywordSet(keywords).first(scanned_words(text))


@dataclass(frozen=True)
class Match:
    trigger: Trigger
    because: str


def matches(conditions: Conditions, message: ClassifiedMessage, scanned: bytes, policy: RoutingPolicy) -> str | None:
    """Why every condition holds, or None when one does not; ``scanned`` is the message's
    ``scanned_words``, made once per message for every trigger's keywords."""
    c = message.classification
    because: list[str] = []
    if conditions.lanes is not None and c.lane not in conditions.lanes:
        return None
    if conditions.priorities is not None and c.priority not in conditions.priorities:
        return None
    if conditions.issue_types is not None and c.issue_type not in conditions.issue_types:
        return None
    if conditions.channels is not None and message.channel not in conditions.channels:
        return None
    followers = message.author.followers or 0
    if conditions.min_followers is not None:
        if followers < conditions.min_followers:
            return None
        because.append(f"{followers} followers")
    if conditions.large_audience is not None:
        large = message.author.followers is not None and followers >= policy.large_audience_followers
        if large != conditions.large_audience:
            return None
        if large:
            because.append(f"{followers} followers >= {policy.large_audience_followers}")
    if conditions.signals is not None:
        present = set(c.reasons) | {str(kind) for kind in message.pii}
        found = [s for s in conditions.signals if s in present]
        if not found:
            return None
        because.append(f"signal '{found[0]}'")
    keyword_set = conditions.keyword_set
    if keyword_set is not None:
        keyword = keyword_set.first(scanned)
        if keyword is None:
            return None
        because.append(f"keyword '{keyword}'")
    scope = [str(c.lane), str(c.priority), str(c.issue_type), str(message.channel)]
    return ", ".join(because) if because else "/".join(scope)


def fired_triggers(message: ClassifiedMessage, policy: RoutingPolicy) -> list[Match]:
    scanned = scanned_words(message.text[: policy.keyword_scan_chars])
    fired: list[Match] = []
    for trigger in policy.triggers:
        because = matches(trigger.when, message, scanned, policy)
        if because is not None:
            fired.append(Match(trigger, because))
    return fired


def reply_mode(message: ClassifiedMessage, policy: RoutingPolicy, reasons: list[str]) -> ReplyMode:
    rule = policy.issue_types[message.classification.issue_type]
    mode = rule.reply_mode
    reasons.append(f"reply mode: {mode} for {message.classification.issue_type}")
    if message.channel == Channel.DIRECT_MESSAGE and mode != ReplyMode.DM and mode != ReplyMode.HIDE:
        # A private message can only be answered privately.
        reasons.append("reply mode: dm because the message came as a direct message")
        return ReplyMode.DM
    public = message.channel in policy.public_channels
    if policy.pii_in_public_switches_to_dm and public and message.pii and mode != ReplyMode.DM:
        kinds = ", ".join(sorted(str(k) for k in message.pii))
        reasons.append(f"reply mode: dm because personal data ({kinds}) was posted in public")
        return ReplyMode.DM
    return mode


def route(message: ClassifiedMessage, policy: RoutingPolicy) -> RoutedMessage:
    c = message.classification
    rule = policy.issue_types[c.issue_type]
    reasons: list[str] = []
    lane_team = policy.lanes[c.lane].team

    owner = lane_team
    tier = Tier.TEAM
    if rule.specialist is not None and rule.specialist != lane_team:
        owner = rule.specialist
        tier = Tier.SPECIALIST
        reasons.append(f"tier 1: {c.issue_type} has specialist owner {owner}")
    else:
        reasons.append(f"tier 0: {c.lane} lane team {lane_team}")
    if rule.internal_alert:
        reasons.append(f"internal alert: {c.issue_type} needs one alongside the reply")

    escalated_owner = False
    escalate_to: str | None = None
    if rule.escalate:
        for match in fired_triggers(message, policy):
            trigger = match.trigger
            reasons.append(f"tier {int(trigger.tier)}: trigger {trigger.id} ({match.because})")
            if trigger.tier == Tier.LEADERSHIP:
                # Leadership is told, the specialist keeps the work: replacing the owner
                # lost the person who can actually fix it. The first listed contact wins.
                tier = Tier.LEADERSHIP
                if escalate_to is None and trigger.owner is not None:
                    escalate_to = trigger.owner
                    reasons.append(f"tier 2: escalate to {escalate_to}; {owner} keeps the conversation")
                continue
            # The highest tier decides; among equals the first listed trigger
            # keeps the owner, so the policy's order is its precedence.
            if trigger.tier > tier or (trigger.tier == tier and not escalated_owner):
                tier = max(tier, trigger.tier)
                if trigger.owner is not None:
                    owner = trigger.owner
                    escalated_owner = True
    else:
        reasons.append(f"no escalation: triggers do not apply to {c.issue_type}")

    mode = reply_mode(message, policy, reasons)

    team = policy.team_of(owner)
    campaign = policy.sla.campaign_at(message.received_at.timestamp(), c.lane, message.platform)
    clock = deadlines(message, policy, team, reasons, campaign)
    template = rule.template
    if campaign is not None:
        reasons.append(f"campaign {campaign.name}: targets x{campaign.target_multiplier:g}")
        if campaign.template is not None:
            template = campaign.template
            reasons.append(f"campaign {campaign.name}: pinned template {template}")
    review_owner: str | None = None
    if c.needs_review:
        # The reply is not held back: the owner answers as usual while a person checks the
        # classification (and corrects it with a reclassified event).
        review_owner = policy.reviewer_of(c.lane)
        why = ", ".join(c.review_reasons) or "the classifier is unsure"
        reasons.append(f"review: {review_owner} checks the classification ({why})")
    routing = Routing(
        team=team,
        owner=owner,
        tier=tier,
        reply_mode=mode,
        **clock,
        template_id=template,
        policy_version=policy.version,
        reasons=reasons,
        escalate_to=escalate_to,
        campaign=campaign.name if campaign is not None else None,
        review=review_owner is not None,
        review_owner=review_owner,
    )
    # Both parts are validated already (the classified message as it was read, the routing
    # as it was built): re-validating the whole message per record was a third of the cost.
    return RoutedMessage.model_construct(**carried_fields(message), routing=routing)


def _at(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


def deadlines(
    message: ClassifiedMessage, policy: RoutingPolicy, team: str, reasons: list[str], campaign: Campaign | None = None
) -> dict[str, Any]:
    """The SLA fields of the routing: targets, the calendar that counts them, the deadlines.

    Targets count the owning team's open hours (wall time for around-the-clock
    priorities and teams without a calendar); a platform's reply window caps the
    first-response deadline at its close minus the policy's margin."""
    c, sla = message.classification, policy.sla
    if message.direction == Direction.OUTBOUND:
        reasons.append("sla: none, the brand's own message starts no clock")
        return {"first_response_target_seconds": None, "first_response_due_at": None}
    target = sla.target_seconds(c.issue_type, c.lane, c.priority)
    if target is None:
        reasons.append(f"sla: none for {c.issue_type}")
        return {"first_response_target_seconds": None, "first_response_due_at": None}
    if campaign is not None:
        target = max(1, round(target * campaign.target_multiplier))
    calendar = policy.calendar_of(team, c.priority)
    received = message.received_at.timestamp()
    source = "target" if c.issue_type in sla.targets else f"fallback {c.lane}/{c.priority}"
    due = add_seconds(calendar, received, target)
    if math.isinf(due):  # a calendar closed for over a year: better a wall-clock deadline than none
        calendar, due = None, received + target
    if calendar is None:
        hours = "around the clock" + (f" ({c.priority} is on call)" if sla.counts_wall_time(c.priority) else "")
    else:
        hours = f"in {team}'s open hours (calendar {calendar.name})"
    reasons.append(f"sla: first response within {target}s {hours} ({source}) of receipt")
    window = sla.reply_windows.closes_at(message.platform, message.channel, message.created_at)
    if window is not None:
        cap = window.timestamp() - sla.reply_windows.margin
        if cap < due:
            due = cap
            reasons.append(
                f"sla: due before the {message.platform} reply window closes at {window.isoformat()} "
                f"(less a {sla.reply_windows.margin}s margin)"
            )
    resolution = sla.resolution_seconds(c.issue_type, c.lane, c.priority)
    resolution_due = add_seconds(calendar, received, resolution) if resolution is not None else None
    return {
        "first_response_target_seconds": target,
        "first_response_due_at": _at(due),
        "calendar": calendar.name if calendar is not None else None,
        "reply_window_closes_at": window,
        "next_response_target_seconds": sla.next_response_seconds(c.issue_type, c.lane, c.priority),
        "resolution_target_seconds": resolution,
        "resolution_due_at": _at(resolution_due)
        if resolution_due is not None and not math.isinf(resolution_due)
        else None,
    }


def carried_fields(message: ClassifiedMessage | RoutedMessage) -> dict[str, Any]:
    """The fields a stage passes on unchanged, as they are (no copy, no re-validation)."""
    return {name: getattr(message, name) for name in type(message).model_fields if name != "record_type"}
