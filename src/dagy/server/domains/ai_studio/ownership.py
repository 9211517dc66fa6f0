"""Who may touch a session: the user who created it, in the org it was created in.

To anyone else, org admins included, a session does not exist (404), as another org's session
does not: a session is a personal workspace (its messages, attachments and drafts), not an org
resource (docs/ai-studio.md, "Who sees a session").
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from dagy.server.db.models import AiStudioSession
from dagy.server.domains.ai_studio import repository as repo
from dagy.server.errors import Conflict, NotFound
from dagy.server.identity import Actor


def user_id_of(actor: Actor) -> str:
    """The caller's user; every signed-in caller and API key acts as one (a guard, not a rule)."""
    if actor.user_id is None:
        raise NotFound("Session not found.", details={"session_id": "sessions belong to users"})
    return actor.user_id


def own_session(
    session: Session, actor: Actor, session_id: str, *, for_update: bool = False
) -> AiStudioSession:
    """The caller's session in its org, or 404 (another user's and another org's alike)."""
    row = repo.get_session(session, actor.org_id, user_id_of(actor), session_id, for_update=for_update)
    if row is None:
        raise NotFound("Session not found.", details={"session_id": "no such session"})
    return row


def check_active(row: AiStudioSession) -> None:
    """Archived sessions are read-only: no more turns or attachments (409)."""
    if row.status != repo.ACTIVE:
        raise Conflict("The session is archived.", details={"session_id": "archived"})
