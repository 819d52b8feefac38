"""Loket: the web counter where villages hand in rosters (and, later, BKAD settles invoices).

`app` (the routes), `accounts` (users, passwords, login limits), `cookies` (signed sessions and CSRF),
`audit` (who did what), `upload` (one roster file: the cycle's verdict, landed in the inbox).
"""
