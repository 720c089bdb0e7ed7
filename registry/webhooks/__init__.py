"""Webhooks: an agency hears of revoked permits and its disputes as they happen, signed the Standard Webhooks way.

`events.queue` is called inside the transaction of the change (permits.py, disputes/), so an event
exists exactly when its change committed; the job worker (registry/jobs.py) hands each job to
`delivery.WebhookDeliveries`. The agency API for it (`PUT`/`DELETE /v1/webhook`, the deliveries
list) is `routes.py`. The changes feed stays the source of truth; a webhook only says "look now".
"""
