"""Which chunk-micro-batches a device of Megatron-LM's interleaved 1F1B schedule holds (Narayanan et al.
SC21 §2.2.2; Megatron-LM `forward_backward_pipelining_with_interleaving`, `get_model_chunk_id`).

Device j (0-based) of S runs W_j = 2·(S − j − 1) + (v − 1)·S warm-up forwards, then one forward and one
backward at a time, so at most W_j + 1 units are in flight (all (m/d)·v of them if fewer). Forward unit u
belongs to chunk (u // S) mod v, backward unit u to chunk v − 1 − (u // S) mod v: forwards go chunk 0..v−1
in groups of S micro-batches, backwards v−1..0. When the micro-batches per replica equal S, every forward
runs first (as Megatron-LM of 2021 does). Which units are held changes as the steady state runs, so the
peak is simulated; the pattern repeats every S·v units.
"""

from __future__ import annotations

from functools import lru_cache


def warmup_units(stages: int, device: int, chunks: int) -> int:
    """Forward chunk-micro-batches device `device` runs before its first backward (Megatron-LM)."""
    return 2 * (stages - device - 1) + (chunks - 1) * stages


def _chunk_of(unit: int, stages: int, chunks: int, forward: bool) -> int:
    local = (unit // stages) % chunks
    return local if forward else chunks - 1 - local


@lru_cache(maxsize=4096)
def held_states(stages: int, device: int, chunks: int, per_replica: int) -> tuple[tuple[int, ...], ...]:
    """Every distinct count of in-flight units per chunk the device passes through at a forward (the only
    moments memory grows), in schedule order; the pattern repeats every S·v units, so two periods suffice."""
    total = per_replica * chunks
    warm = total if per_replica == stages else min(warmup_units(stages, device, chunks), total)
    held = [0] * chunks
    for u in range(warm):
        held[_chunk_of(u, stages, chunks, True)] += 1
    states = [tuple(held)]
    # steady state: forward unit warm + k, then backward unit k
    for k in range(min(total - warm, 2 * stages * chunks)):
        held[_chunk_of(warm + k, stages, chunks, True)] += 1
        states.append(tuple(held))
        held[_chunk_of(k, stages, chunks, False)] -= 1
    return tuple(dict.fromkeys(states))


def peak_inflight(stages: int, device: int, chunks: int, per_replica: int,
                  chunk_bytes: tuple[float, ...]) -> tuple[float, tuple[int, ...]]:
    """(activation bytes, units per chunk) at the device's peak; `chunk_bytes[k]` = one unit of chunk k."""
    best, best_held = -1.0, ()
    for held in held_states(stages, device, chunks, per_replica):
        size = sum(n * b for n, b in zip(held, chunk_bytes, strict=True))
        if size > best:
            best, best_held = size, held
    return best, best_held
