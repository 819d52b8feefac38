"""E-mail: notifications are queued with the event they report, and never resent once sent.

One module per concept, callers import from the module that does what they need:

| module | what |
| --- | --- |
| `outbox` | `queue`: a `Notification` row in the caller's transaction, once per idempotency key |
| `compose` | templates (`templates/email/`) rendered, the message built, its Message-ID and envelope |
| `deliver` | `deliver_pending`: claim, send (SMTP or a file outbox), record; retries and backoff |

The guarantees. The cycle writes `Notification` rows in its own transaction (`outbox.queue`), so an
invoice and the message announcing it exist together or not at all. `deliver.deliver_pending` later
sends what is due, one short transaction per row: claim it (`pending` → `sending`), send it, record
the outcome. A crash mid-batch therefore never resends the rows already marked `sent`; the one row
caught between the SMTP `250` and its commit is the only one that can go out twice, and it carries
the same Message-ID both times so a recipient (or their mail client) can recognise the repeat.

Delivery goes over SMTP (aiosmtplib, one connection per batch, reconnecting after a drop) when a host
is configured, else into a file outbox of `.eml` files an operator can open or forward by hand.
"""
