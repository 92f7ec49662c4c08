"""The generic webhook: the mapped record as JSON, signed per Standard Webhooks (https://www.standardwebhooks.com).

Idempotency is the receiver's: ``webhook-id`` is the delivery's id and stays the same on every retry, so a
receiver that keeps the ids it has seen (as Standard Webhooks asks) files the call once. The timestamp and
signature are fresh on each try, so a retry a day later still passes the receiver's clock-skew check.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import httpx

from callsense.backends.crm.base import Outgoing, Receipt, send
from callsense.security.signatures import sign_standard_webhook


def webhook_id(outgoing: Outgoing) -> str:
    return f"msg_{outgoing.delivery_id.hex}"


@dataclass
class WebhookDestination:
    client: httpx.Client
    url: str
    secret: str

    def deliver(self, outgoing: Outgoing) -> Receipt:
        message_id = webhook_id(outgoing)
        body = json.dumps(
            {"type": "call.analysed", "call_id": outgoing.call_id, "data": outgoing.fields},
            ensure_ascii=False,
            default=str,
        ).encode()
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_standard_webhook(
                secret=self.secret, webhook_id=message_id, timestamp=timestamp, body=body
            ),
        }
        send(self.client, "POST", self.url, content=body, headers=headers)
        return Receipt(external_id=message_id)
