"""Execution modes and resource classes of an op: the vocabulary every schedule module shares.

Modes (DESIGN §6): `MODE_SINGLE` runs a GEMM / vector op on one core (duration l_i; demand 1 TC, 1 VC,
or 1 of each for a fused GEMM+epilogue) — collectives (the link) and NOPs have only this mode;
`MODE_INTRA` spreads the op over the whole chip (duration L_i; demand all n_tc TCs and all n_vc VCs).
A mode whose duration is not finite (or longer than `MAX_OP_SECONDS`) is unavailable.

Resource classes (NOP, TC, VC, TC_VC, LINK) say what an op's single-core mode occupies, the CLASS_* rows
its unit demand on each resource. Kept apart from `units` and `problem` so that the plain-Python side
(`instance`, checker, references) can name modes and classes without the Problem arrays and builders;
it imports nothing from the schedule package, so everything else can import it.
"""

from __future__ import annotations

import numpy as np

from phaze.model.ops import Op, OpKind

MODE_SINGLE = 0
MODE_INTRA = 1
MODE_NAMES = ("single", "intra")

# Resource classes of an op (what its single-core mode occupies).
NOP, TC, VC, TC_VC, LINK = range(5)
CLASS_NAMES = ("nop", "tc", "vc", "tc+vc", "link")
CLASS_TC = np.array([0, 1, 0, 1, 0], dtype=np.int64)
CLASS_VC = np.array([0, 0, 1, 1, 0], dtype=np.int64)
CLASS_LINK = np.array([0, 0, 0, 0, 1], dtype=np.int64)
# Whether the single-core mode holds a tensor or vector core: only such intervals exclude a whole-chip one.
CLASS_HOLDS_CORE = (CLASS_TC | CLASS_VC).astype(bool)


def op_class(op: Op) -> int:
    """DESIGN §6 demands: GEMM -> TC (+VC with a fused epilogue), vector -> VC, collective -> link."""
    if op.kind is OpKind.NOP:
        return NOP
    if op.uses_link:
        return LINK
    if op.uses_tc:
        return TC_VC if op.uses_vc else TC
    if op.uses_vc:
        return VC
    raise ValueError(f"op {op.name!r} of kind {op.kind} uses no resource and is not a NOP")
