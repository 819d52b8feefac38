"""The hostile corpus against the other readers of files people send: the workbooks that would make
calamine abort the process are refused before calamine sees them, by every reader, with their code.

calamine is replaced by a tripwire while they are read: a refusal must come from the check before it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from iuran.bpjs_status import read_status_list
from iuran.intake import workbook
from iuran.intake.refusal import FILE_MESSAGES, FileRefused
from iuran.payments.read import read_payment_table
from iuran.payments.rules import PAYMENT, RECEIPT
from tests.hostile.corpus import BY_NAME, write_case

#: Workbooks calamine would allocate without bound for, or choke on.
BEFORE_CALAMINE = [
    "xlsx_far_cells", "xlsx_shared_strings_count", "xlsx_million_rows", "xlsx_rows_without_r",
    "zip_lying_sizes",
]  # fmt: skip


class _Tripwire:
    @staticmethod
    def from_filelike(*args: object) -> None:
        raise AssertionError("calamine opened a workbook the check should have refused")


@pytest.fixture
def no_calamine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workbook, "CalamineWorkbook", _Tripwire)


@pytest.mark.usefixtures("no_calamine")
@pytest.mark.parametrize("name", BEFORE_CALAMINE)
def test_bpjs_status_list_refuses_before_calamine(name: str, tmp_path: Path) -> None:
    case = BY_NAME[name]
    path = write_case(case, tmp_path)
    path.rename(tmp_path / "bpjs_status.xlsx")
    status, notes = read_status_list(tmp_path)
    assert status.empty
    [note] = notes
    assert case.file_code is not None
    prefix = FILE_MESSAGES[case.file_code].split("{")[0]
    assert note.startswith(f"bpjs_status.xlsx: {prefix}"), note


@pytest.mark.usefixtures("no_calamine")
@pytest.mark.parametrize("kind", [PAYMENT, RECEIPT])
@pytest.mark.parametrize("name", BEFORE_CALAMINE)
def test_payment_and_receipt_files_are_refused_before_calamine(
    name: str, kind: str, tmp_path: Path
) -> None:
    case = BY_NAME[name]
    path = write_case(case, tmp_path)
    with pytest.raises(FileRefused) as refused:
        read_payment_table(path.rename(tmp_path / "sp2d.xlsx"), kind)
    assert refused.value.code == case.file_code
    assert "{" not in refused.value.message
