"""Intake: reading the spreadsheets and CSV files people send, one way for every reader.

Rosters (`iuran.rosters.read`), SP2D and receipt files (`iuran.payments.read`) and BPJS's status list
(`iuran.bpjs_status`) each say which columns they look for (`header.Columns`) and how much they
accept (`refusal.Limits`); reading, and refusing a file with a `BERKAS_*` code, is done here:

- `read`: the way in: type by name and bytes, size, one file -> one table of text;
- `refusal`: the limits, the one error (`FileRefused`) and the `BERKAS_*` messages;
- `workbook`: XLSX, measured before calamine opens it (a crafted file would abort the process);
- `xls`: old Excel `.xls` (BIFF), measured the same way before calamine opens it;
- `delimited`: CSV, encodings and separators;
- `html`: a web page's table (OpenSID's printable list, served as `.xls`), bounded;
- `header`: finding the header row with a reader's synonyms;
- `cells`: cells as text, and cleaning (trim, collapse spaces, empty -> missing).
"""
