"""Payments: SP2D files from BKAD matched to invoices, BPJS receipts matched to SP2Ds, credit spent.

One module per step, callers import from the module that does what they need:

| module | what |
| --- | --- |
| `read` | a payment or receipt file (CSV/XLSX) → rows with the operator's row numbers |
| `rules` | row rules over whole columns, and every code and Indonesian message |
| `match` | matching and allocation, a pure function over frames |
| `sp2d` | recording SP2D rows: payments, allocations, their e-mails |
| `receipts` | recording BPJS receipts against their SP2Ds |
| `imports` | one file, one transaction: registered once by content, then applied |
| `state` | an invoice's payment state, derived from allocations and receipts |
| `credit` | credit (overpayments, credit notes) paying invoices; `settle` |

Credit notes themselves (workers removed from a paid invoice) are `iuran.credit_notes`: invoicing
writes them, and does not depend on this package.
"""
