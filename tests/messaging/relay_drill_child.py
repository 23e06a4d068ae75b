"""A relay process for the kill drill: ``python relay_drill_child.py DB_URL GATEWAY LEASE_S``.

It runs the real relay against the real database and gateway until it is killed; the drill
(test_messaging_relay_drill.py) kills it with SIGKILL while a message is at the gateway.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta

from dispatcher.clock import SystemClock
from dispatcher.messaging.relay import Relay, RetryPolicy
from dispatcher.messaging.sms_http import JsonWebhookSmsChannel, WebhookConfig
from dispatcher.persistence.database import Database
from dispatcher.persistence.outbox_repo import SqlOutboxStore


def main() -> None:
    url, gateway, lease_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
    db = Database(url, migrate=False)
    channel = JsonWebhookSmsChannel(WebhookConfig(url=gateway + "/sms", token_env=""))
    relay = Relay(
        SqlOutboxStore(db),
        {"sms": channel},
        SystemClock(),
        worker_id=f"drill-{os.getpid()}",
        policy=RetryPolicy(initial=timedelta(seconds=1), jitter=0.0),
        lease=timedelta(seconds=lease_s),
    )
    while True:
        if not relay.run_once(20).handled:
            time.sleep(0.05)


if __name__ == "__main__":
    main()
