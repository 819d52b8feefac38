"""The payment day's steps (`iuran/payment_day.py`) and the reminders as Prefect tasks, each with a
name and retries for the errors a retry can fix (`tasks/retry.py`)."""

from __future__ import annotations

from iuran import payment_day
from iuran.payments.credit import settle
from iuran.reminders import queue_reminders
from tasks.retry import at_the_edge

import_payments = at_the_edge(payment_day.import_payments, "import-payments")
import_receipts = at_the_edge(payment_day.import_receipts, "import-receipts")
settle_payments = at_the_edge(settle, "settle-payments")
remind = at_the_edge(queue_reminders, "queue-reminders")
