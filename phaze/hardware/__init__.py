"""Accelerator description, search-space enumeration and area model (DESIGN §4)."""

from phaze.hardware.accelerators import Accelerators
from phaze.hardware.area import area_mm2
from phaze.hardware.design import Accelerator
from phaze.hardware.summary import hardware_summary

from_config = Accelerators.from_config

__all__ = ["Accelerator", "Accelerators", "area_mm2", "from_config", "hardware_summary"]
