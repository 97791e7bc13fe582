"""Roofline checks of the simulated kernels: a large matmul keeps the Cube >= 85 % busy and runs within 15 % of
the profile's peak-FLOP bound; a large elementwise kernel runs within 15 % of the HBM bandwidth bound.
(benchmarks/bench_ascend.py records the full table on the 32-core profile in docs/benchmarks.md.)"""
import numpy as np

from mindlab.kernels import ascend
from mindlab.kernels.ascend import ASCEND910
from mindlab.kernels.ascend.k_cube import matmul
from mindlab.kernels.ascend.k_vector import elementwise

# a 4-core slice of the Ascend 910 keeps the simulation short (the per-core numbers are the 910's)
FOUR_CORES = ASCEND910.replace(name="ascend910-4core", ai_cores=4)


def test_large_matmul_reaches_the_cube_roofline():
    n = 1024
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float16)
    b = rng.standard_normal((n, n)).astype(np.float16)
    with ascend.use_profile(FOUR_CORES):
        c = matmul(a, b)
    rec = ascend.last_profile().kernels[-1]
    bound = 2.0 * n ** 3 / FOUR_CORES.peak_flops
    assert rec.utilisation["Cube"] >= 0.85, rec.table()
    assert bound <= rec.seconds <= 1.15 * bound, (rec.seconds, bound)
    ref = a[:64].astype(np.float32) @ b.astype(np.float32)
    np.testing.assert_allclose(c[:64].astype(np.float32), ref, rtol=2e-2, atol=0.25)   # fp16 output rounding


def bandwidth_bound(nbytes, prof):
    """Seconds to move ``nbytes`` at the chip's memory roofline: HBM, or the cores' links when fewer cores
    cannot draw the HBM bandwidth."""
    links = prof.ai_cores * min(prof.mte2_bytes, prof.l2_bytes_per_cycle / prof.ai_cores) * prof.clock_hz
    return nbytes / min(prof.hbm_bandwidth, links)


def _add(n, prof, **kw):
    x = np.ones(n, np.float16)
    y = np.full(n, 2, np.float16)
    with ascend.use_profile(prof):
        z = elementwise("Add", np.add, [x, y], ["full", "full"], [np.float16], (n,), **kw)
    assert (z == 3).all()
    return ascend.last_profile().kernels[-1], bandwidth_bound(3 * n * 2, prof)


def test_large_elementwise_reaches_the_bandwidth_roofline():
    for prof, n in ((ASCEND910, 1 << 22), (ASCEND910.replace(name="one-core", ai_cores=1), 1 << 20)):
        rec, bound = _add(n, prof)
        assert bound <= rec.seconds <= 1.15 * bound, (prof.name, rec.seconds, bound)
        assert rec.block_dim == prof.ai_cores


def test_small_tiles_miss_the_roofline():
    """The check can fail: 1 KB tiles pay the copy latency on every tile and fall well short of the bound."""
    rec, bound = _add(1 << 20, ASCEND910.replace(name="one-core", ai_cores=1), tile_bytes=1024)
    assert rec.seconds > 1.5 * bound
