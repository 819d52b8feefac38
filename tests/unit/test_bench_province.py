"""The province case's programs and release copy: Jawa Tengah's regencies with their real village
counts, and program files the workers' copy of the code loads back unchanged."""

from __future__ import annotations

from pathlib import Path

from bench import data, province
from iuran import wilayah
from iuran.programs import load_program


def test_jawa_tengah_has_a_program_per_regency_sized_by_its_villages() -> None:
    programs = data.province_programs("33")
    villages = wilayah.all_villages()
    central_java = villages[villages["kode_kabupaten"].str.startswith("33.")]
    assert len(programs) == 35 == central_java["kode_kabupaten"].nunique()
    assert sum(p.years[0].workers or 0 for p in programs) == 10 * len(central_java)
    cilacap = programs[0]
    assert (cilacap.code, cilacap.regency_name) == ("kab-33-01", "Kabupaten Cilacap")
    assert cilacap.target_per_village == cilacap.per_village == 10
    assert "Cilacap" in cilacap.payer_name and "Lebak" not in cilacap.name
    assert len({p.short for p in programs}) == 35


def test_release_holds_the_program_files_the_flow_loads(tmp_path: Path) -> None:
    programs = data.province_programs("33", regencies=2)
    where = province.release(programs, tmp_path / "release")
    folder = where / "deployments" / "programs"
    for p in programs:
        assert load_program(p.code, folder) == p
    assert (where / "flows" / "monthly_cycle.py").exists()
    assert (where / "iuran" / "data" / "wilayah.csv.gz").exists()
