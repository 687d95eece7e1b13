"""Activation memory per layer against Korthikanti et al. 2023 (Reducing Activation Recomputation in
Large Transformer Models, eqs. 1-2 and Table 2), for GPT-3 175B at s=2048, b=1."""

from __future__ import annotations

import pytest
from conftest import model_cfg

from phaze.model import build_model

S, H, A = 2048, 12288, 96
SBH = S * H


def block(t: int = 1, sp: bool = False, b: int = 1):
    return build_model(model_cfg("gpt3_175b"), b, t, sp).layers["block"]


def test_no_recompute_t1_matches_korthikanti() -> None:
    assert block().activation_bytes("none") == 2_868_903_936 == SBH * (34 + 5 * A * S // H)


@pytest.mark.parametrize("t", [2, 4, 8])
def test_tensor_parallel_matches_korthikanti(t: int) -> None:
    expected = SBH * 10 + SBH * 24 // t + 5 * A * S * S // t
    assert block(t).activation_bytes("none") == expected


@pytest.mark.parametrize("t", [1, 8])
def test_selective_recompute(t: int) -> None:
    assert block(t).activation_bytes("selective") == SBH * 10 + SBH * 24 // t


def test_selective_with_sequence_parallel() -> None:
    assert block(8, sp=True).activation_bytes("selective") == 34 * SBH // 8
    assert block(8, sp=True).activation_bytes("none") == 34 * SBH // 8 + 5 * A * S * S // 8


def test_full_recompute_keeps_only_the_layer_input() -> None:
    assert block().activation_bytes("full") == 2 * SBH
    assert block(8, sp=True).activation_bytes("full") == 2 * SBH // 8


def test_head_keeps_fp32_logits() -> None:
    head = build_model(model_cfg("gpt3_175b"), 1, 1).layers["head"]
    # final-norm input + LM-head input (2 bytes) + the cross-entropy's fp32 softmax over the vocabulary
    assert head.activation_bytes("none") == 2 * SBH + 2 * SBH + 4 * S * 50257
