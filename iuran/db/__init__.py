"""The registry: participants, memberships, cycles, contribution lines, invoices, notifications, payments."""
