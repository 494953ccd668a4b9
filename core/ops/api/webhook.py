"""Example integration: on a helpdesk's "ticket created" webhook, draft a reply and post it as a private note.

Run with `uvicorn --factory core.ops.api.webhook:app_from_env` and POLYDESK_API_URL, POLYDESK_API_KEY,
HELPDESK_URL, HELPDESK_TOKEN and WEBHOOK_SECRET set; point the helpdesk's webhook at POST /webhook.
"""

from __future__ import annotations

import hmac
import os

import httpx
from fastapi import FastAPI, Request

from core.ops.api.errors import ApiError, install_error_handlers

TICKET_CREATED = "ticket.created"
TIMEOUT_S = 120.0


def note_text(reply: dict) -> str:
    """The private note: the draft, then the links of its citations, then any warnings."""
    links = [f"[{c['marker']}] {c['url'] or c['source']}" for c in reply["citations"]]
    warnings = [f"Note: {w}" for w in reply["warnings"]]
    return "\n\n".join(part for part in (reply["draft"], "\n".join(links), "\n".join(warnings)) if part)


def create_webhook_app(polydesk_url: str, polydesk_key: str, helpdesk_url: str, helpdesk_token: str,
                       secret: str) -> FastAPI:
    """A receiver: checks the shared secret, asks Polydesk for a draft, writes it back to the ticket."""
    app = FastAPI(title="Polydesk helpdesk webhook")
    install_error_handlers(app)

    @app.post("/webhook")
    async def webhook(request: Request) -> dict:
        """Draft a reply for a new ticket and post it as a private note; other events are ignored."""
        if not hmac.compare_digest(request.headers.get("x-webhook-secret", ""), secret):
            raise ApiError(401, "Wrong or missing X-Webhook-Secret header.")
        event = await request.json()
        if event.get("event") != TICKET_CREATED:
            return {"ignored": event.get("event")}
        ticket = event["ticket"]
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
            drafted = await client.post(f"{polydesk_url}/api/v1/replies", json={"message": ticket["description"]},
                                        headers={"Authorization": f"Bearer {polydesk_key}"})
            drafted.raise_for_status()
            reply = drafted.json()
            noted = await client.post(f"{helpdesk_url}/api/tickets/{ticket['id']}/notes",
                                      json={"body": note_text(reply), "private": True},
                                      headers={"Authorization": f"Bearer {helpdesk_token}"})
            noted.raise_for_status()
        return {"ticket": ticket["id"], "answer_id": reply["answer_id"], "language": reply["language"]}

    return app


def app_from_env() -> FastAPI:
    """The receiver configured from the environment."""
    return create_webhook_app(os.environ["POLYDESK_API_URL"].rstrip("/"), os.environ["POLYDESK_API_KEY"],
                              os.environ["HELPDESK_URL"].rstrip("/"), os.environ["HELPDESK_TOKEN"],
                              os.environ["WEBHOOK_SECRET"])
