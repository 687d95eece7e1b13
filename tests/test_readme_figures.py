"""The README's hardware figures are the ones `python -m phaze task=inspect hw=...` prints (the docs cannot
drift from the code). The validation figures are tied to their scripts in test_evaluate.py."""

from __future__ import annotations

from conftest import ROOT, compose_cfg

from phaze.hardware import hardware_summary


def test_readme_space_and_budget_are_what_inspect_reports() -> None:
    readme = (ROOT / "README.md").read_text()
    space = hardware_summary(compose_cfg(["hw=search"]).hw)
    assert f"{space['candidates_kept']:,} of {space['candidates_total']:,} candidates" in readme
    budget = hardware_summary(compose_cfg(["hw=tpuv4_phaze"]).hw)["area_mm2"]
    assert budget == space["max_area_mm2"]
    assert f"its area, {budget:.2f} mm² under" in readme
    original = hardware_summary(compose_cfg(["hw=search", "hw.area_model=phaze2024"]).hw)
    assert f"{original['max_area_mm2']:.2f} mm², {original['candidates_kept']:,} of " \
           f"{original['candidates_total']:,} candidates" in readme
