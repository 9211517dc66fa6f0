"""AI Studio's model tiers: what a turn costs in credits and how far one session may go.

A session has one tier (chosen at creation, changed with `PATCH .../tier`). The tier prices every
turn (`credits_per_turn`, charged from the org's credits when the turn is answered) and bounds the
session: turns, attachments, the size of one attachment. Planners read the tier id from
`PlanRequest.tier` (an LLM provider picks its model by it); the embedded planner answers every
tier alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from dagy.server.errors import InvalidInput

MIB = 1024 * 1024
# The reference's attachment ceiling, whatever the tier.
MAX_ATTACHMENT_BYTES = 25 * MIB


@dataclass(frozen=True)
class Tier:
    tier_id: str
    name: str
    description: str
    credits_per_turn: float
    turns_per_session: int
    attachments_per_session: int
    max_attachment_bytes: int


TIERS: dict[str, Tier] = {
    tier.tier_id: tier
    for tier in (
        Tier(
            "fast",
            "Fast",
            "Quick drafts and questions: the smallest model, the lowest price per turn.",
            credits_per_turn=1.0,
            turns_per_session=30,
            attachments_per_session=5,
            max_attachment_bytes=MAX_ATTACHMENT_BYTES,
        ),
        Tier(
            "standard",
            "Standard",
            "Balanced: most workflows, modifications and reviews.",
            credits_per_turn=4.0,
            turns_per_session=60,
            attachments_per_session=10,
            max_attachment_bytes=MAX_ATTACHMENT_BYTES,
        ),
        Tier(
            "max",
            "Max",
            "The largest model: long documents and intricate workflows.",
            credits_per_turn=12.0,
            turns_per_session=120,
            attachments_per_session=20,
            max_attachment_bytes=MAX_ATTACHMENT_BYTES,
        ),
    )
}
TIER_IDS = tuple(TIERS)
DEFAULT_TIER = "standard"


def tier_named(tier_id: str) -> Tier:
    """The tier, or 400 naming the tiers there are."""
    tier = TIERS.get(tier_id)
    if tier is None:
        raise InvalidInput(f"Unknown tier {tier_id}.", details={"tier": f"one of {', '.join(TIER_IDS)}"})
    return tier
