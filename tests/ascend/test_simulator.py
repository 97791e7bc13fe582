"""The AI-core simulator: capacities and alignment enforced with clear errors, queue discipline, the cycle model
(pipes overlap; double buffering hides copies), profile records, and the layout transforms."""
import numpy as np
import pytest

from mindlab.kernels import ascend
from mindlab.kernels.ascend import (TPipe, TQue, TPosition, DataCopy, DataCopyPad, DataCopyExtParams, Exp,
                                    Add, Mmad, LoadData, Nd2NzParams, launch, GlobalTensor, GetBlockIdx,
                                    BufferOverflowError, AlignmentError, AscendError, ASCEND910)
from mindlab.kernels.ascend.k_vector import elementwise
from mindlab.kernels.ascend import formats


def _exp_kernel(x_gm, y_gm, n, tile, buffers):
    """A user-style kernel: CopyIn -> Compute (two Exps) -> CopyOut over tiles, ``buffers`` slots per queue."""
    pipe = TPipe()
    qi, qo = TQue(TPosition.VECIN, buffers, "inQueueX"), TQue(TPosition.VECOUT, buffers, "outQueueY")
    pipe.InitBuffer(qi, buffers, tile * 4)
    pipe.InitBuffer(qo, buffers, tile * 4)
    for off in range(0, n, tile):
        x = qi.AllocTensor(np.float32)
        DataCopy(x, x_gm[off:], tile)
        qi.EnQue(x)
        x = qi.DeQue()
        y = qo.AllocTensor(np.float32)
        Exp(y, x, tile)
        Exp(y, y, tile)
        qo.EnQue(y)
        qi.FreeTensor(x)
        y = qo.DeQue()
        DataCopy(y_gm[off:], y, tile)
        qo.FreeTensor(y)


def _run_exp(buffers, n=64 * 1024, tile=4096):
    x = np.linspace(-1, 0, n, dtype=np.float32)
    y = np.empty_like(x)
    rec = launch(_exp_kernel, 1, GlobalTensor(x), GlobalTensor(y), n, tile, buffers)
    np.testing.assert_allclose(y, np.exp(np.exp(x)), rtol=1e-6)
    return rec


def test_user_kernel_runs_and_double_buffering_overlaps_pipes():
    single, double = _run_exp(1), _run_exp(2)
    tiles = 16
    # with one slot per queue, CopyIn of tile i+1 waits until the Vector unit has read tile i: MTE2 and Vector
    # time add up (only MTE3 overlaps the next CopyIn)
    assert single.cycles >= single.busy["MTE2"] + single.busy["Vector"]
    # with two, tile i+1 is copied in while tile i computes: the time is the busiest pipe's plus one tile's copies
    busiest = max(double.busy[p] for p in ("MTE2", "Vector", "MTE3"))
    one_tile_copies = (double.busy["MTE2"] + double.busy["MTE3"]) / tiles
    assert busiest <= double.cycles <= busiest + 1.5 * one_tile_copies
    assert double.cycles < single.cycles - 0.8 * double.busy["MTE2"]
    assert 0 < double.utilisation["Vector"] <= 1 and double.utilisation["Cube"] == 0
    assert double.seconds == pytest.approx(double.cycles / ASCEND910.clock_hz)


def test_ub_overflow_is_a_clear_error():
    x = np.zeros(1 << 16, np.float32)
    with pytest.raises(BufferOverflowError) as e:
        launch(_exp_kernel, 1, GlobalTensor(x), GlobalTensor(x.copy()), x.size, 1 << 15, 2)   # 2 x 2 x 128 KB
    msg = str(e.value)       # the queue, the request, the buffer and its limit
    assert "InitBuffer(outQueueY, 2 x 131072 B)" in msg and "needs 262144 B of the Unified Buffer" in msg, msg
    assert "limit 262144 B" in msg and "smaller tile" in msg, msg
    # a host tiling asking for a tile too large fails the same way, naming the queue
    with pytest.raises(BufferOverflowError, match=r"Unified Buffer .*limit 262144 B"):
        elementwise("Add", np.add, [x, x], ["full", "full"], [np.float32], x.shape, tile_bytes=64 * 1024)


def test_registry_op_reports_overflow_with_op_name_and_user_line():
    import mindlab as ms
    from mindlab.kernels.ascend import use_profile
    ms.set_context(device_target="Ascend")
    small = ASCEND910.replace(name="tiny-ub", ub=64)       # not even one 32-byte tile per queue pair fits
    with use_profile(small), pytest.raises(RuntimeError) as e:
        ms.ops.add(ms.Tensor(np.ones(100, np.float32)), ms.Tensor(np.ones(100, np.float32)))
    msg = str(e.value)
    assert msg.startswith("add:") and "Unified Buffer" in msg and "test_simulator.py" in msg, msg


def test_alignment_is_enforced():
    def bad_copy(x_gm):
        pipe = TPipe()
        q = TQue(TPosition.VECIN, 1, "inQueueX")
        pipe.InitBuffer(q, 1, 256)
        t = q.AllocTensor(np.float16)
        DataCopy(t, x_gm, 33)                       # 66 bytes
    with pytest.raises(AlignmentError, match="66 B is not a multiple of 32 B.*DataCopyPad"):
        launch(bad_copy, 1, GlobalTensor(np.zeros(64, np.float16)))

    def bad_buffer():
        pipe = TPipe()
        pipe.InitBuffer(TQue(TPosition.VECIN, 1, "q"), 1, 100)
    with pytest.raises(AlignmentError, match="multiple of 32 B, got 100 B"):
        launch(bad_buffer, 1)

    def ragged(x_gm, y_gm):                         # DataCopyPad handles the same 33 elements
        pipe = TPipe()
        q = TQue(TPosition.VECIN, 1, "q")
        pipe.InitBuffer(q, 1, 96)
        t = q.AllocTensor(np.float16)
        DataCopyPad(t, x_gm, DataCopyExtParams(1, 66, 0, 0), pad_value=7)
        assert (t.data[33:48] == 7).all()
        DataCopyPad(y_gm, t, DataCopyExtParams(1, 66, 0, 0))
    x = np.arange(33, dtype=np.float16)
    y = np.zeros(40, np.float16)
    launch(ragged, 1, GlobalTensor(x), GlobalTensor(y))
    assert (y[:33] == x).all() and (y[33:] == 0).all()


def test_queue_discipline_errors():
    def deque_empty():
        pipe = TPipe()
        q = TQue(TPosition.VECIN, 1, "inQueueX")
        pipe.InitBuffer(q, 1, 64)
        q.DeQue()
    with pytest.raises(AscendError, match="DeQue on an empty queue"):
        launch(deque_empty, 1)

    def alloc_twice():
        pipe = TPipe()
        q = TQue(TPosition.VECIN, 1, "inQueueX")
        pipe.InitBuffer(q, 1, 64)
        q.AllocTensor(np.float32)
        q.AllocTensor(np.float32)
    with pytest.raises(AscendError, match="all 1 slots in use"):
        launch(alloc_twice, 1)
    with pytest.raises(AscendError, match="outside a kernel"):
        Add(None, None, None, 8)


def test_cube_cycle_model_and_fp16_rule():
    def one_fractal(a_gm, b_gm, c_out, m, k, n):
        pipe = TPipe()
        qa1, qb1 = TQue(TPosition.A1, 1), TQue(TPosition.B1, 1)
        qa2, qb2, qc = TQue(TPosition.A2, 1), TQue(TPosition.B2, 1), TQue(TPosition.CO1, 1)
        for q, nbytes in ((qa1, m * k * 2), (qb1, k * n * 2), (qa2, m * k * 2), (qb2, k * n * 2), (qc, m * n * 4)):
            pipe.InitBuffer(q, 1, nbytes)
        a1, b1 = qa1.AllocTensor(np.float16), qb1.AllocTensor(np.float16)
        DataCopy(a1, a_gm, Nd2NzParams(m, k, k))
        DataCopy(b1, b_gm, Nd2NzParams(k, n, n))
        a2, b2, c = qa2.AllocTensor(np.float16), qb2.AllocTensor(np.float16), qc.AllocTensor(np.float32)
        LoadData(a2, a1, (m, k), (0, m), (0, k))
        LoadData(b2, b1, (k, n), (0, k), (0, n))
        Mmad(c, a2, b2, m, k, n)
        c_out.append(formats.nz_to_nd(c.data.reshape(n // 16, m // 16, 16, 16), m, n))
    rng = np.random.default_rng(0)
    for m, k, n in ((16, 16, 16), (32, 64, 48)):
        a = rng.standard_normal((m, k)).astype(np.float16)
        b = rng.standard_normal((k, n)).astype(np.float16)
        out = []
        rec = launch(one_fractal, 1, GlobalTensor(a), GlobalTensor(b), out, m, k, n)
        np.testing.assert_allclose(out[0], a.astype(np.float32) @ b.astype(np.float32), rtol=1e-5, atol=1e-5)
        assert rec.busy["Cube"] == ASCEND910.cube_startup + (m // 16) * (k // 16) * (n // 16)
        assert rec.flops == 2 * m * k * n

    def fp32_cube(a_gm):
        pipe = TPipe()
        qa, qb, qc = TQue(TPosition.A2, 1), TQue(TPosition.B2, 1), TQue(TPosition.CO1, 1)
        for q in (qa, qb, qc):
            pipe.InitBuffer(q, 1, 2048)
        Mmad(qc.AllocTensor(np.float32), qa.AllocTensor(np.float32), qb.AllocTensor(np.float16), 16, 16, 16)
    with pytest.raises(AscendError, match="float16 into float32"):
        launch(fp32_cube, 1, GlobalTensor(np.zeros(4)))


def test_l0_capacity():
    def too_big():
        TPipe().InitBuffer(TQue(TPosition.A2, 2, "inQueueA2"), 2, 64 * 1024)
    with pytest.raises(BufferOverflowError, match=r"L0A buffer \(L0A\).*limit 65536 B"):
        launch(too_big, 1)


def test_profile_records_collect_per_op():
    import mindlab as ms
    ms.set_context(device_target="Ascend")
    x = ms.Tensor(np.ones((64, 48), np.float32))
    with ascend.profile() as prof:
        y = ms.ops.softmax(x)
        z = ms.ops.matmul(y, ms.Tensor(np.ones((48, 16), np.float32)))
    assert [r.op for r in prof] == ["softmax", "matmul"]
    assert ascend.last_profile().op == "matmul"
    mm = prof[1]
    assert any(k.name == "MatMul" for k in mm.kernels) and any(k.name == "Cast" for k in mm.kernels)
    assert mm.busy("Cube") > 0 and mm.cycles == pytest.approx(sum(k.cycles for k in mm.kernels))
    assert "softmax" in prof.table() and "Cube" in mm.table()
    np.testing.assert_allclose(z.asnumpy(), np.full((64, 16), 1.0), rtol=1e-3)


def test_layout_transforms_round_trip_and_run_on_chip():
    rng = np.random.default_rng(1)
    for shape in ((16, 16), (17, 33), (3, 40, 5)):
        a = rng.standard_normal(shape).astype(np.float16)
        nz = formats.nd_to_nz(a)
        assert nz.shape[-2:] == (16, 16)
        assert nz.shape[-3] * 16 >= shape[-2] and nz.shape[-4] * 16 >= shape[-1]
        np.testing.assert_array_equal(formats.nz_to_nd(nz, *shape[-2:]), a)
        if len(shape) == 2:
            on_chip = formats.trans_data(a, "ND", "FRACTAL_NZ")
            np.testing.assert_array_equal(on_chip, nz)
            np.testing.assert_array_equal(formats.trans_data(on_chip, "FRACTAL_NZ", "ND", shape), a)
    x = rng.standard_normal((2, 20, 5, 3)).astype(np.float32)
    x5 = formats.nchw_to_nc1hwc0(x)
    assert x5.shape == (2, 2, 5, 3, 16) and (x5[:, 1, :, :, 4:] == 0).all()
    np.testing.assert_array_equal(x5[:, 0, 2, 1, :], x[:, :16, 2, 1])
    np.testing.assert_array_equal(formats.nc1hwc0_to_nchw(x5, 20), x)
    np.testing.assert_array_equal(formats.trans_data(x, "NCHW", "NC1HWC0"), x5)
    np.testing.assert_array_equal(formats.trans_data(x5, "NC1HWC0", "NCHW", x.shape), x)


def test_profiles_are_named_and_derived():
    assert ASCEND910.ai_cores == 32 and ASCEND910.ub == 256 * 1024 and ASCEND910.l1 == 1024 * 1024
    assert ASCEND910.l0a == ASCEND910.l0b == 64 * 1024 and ASCEND910.l0c == 256 * 1024
    assert ASCEND910.peak_flops == pytest.approx(2 * 4096 * 32 * 1e9)
    one = ASCEND910.replace(ai_cores=1, name="one-core")
    x = np.ones(1 << 20, np.float32)
    with ascend.use_profile(one):
        elementwise("Add", np.add, [x, x], ["full", "full"], [np.float32], x.shape)
    assert ascend.last_profile().kernels[0].cores == 1 and ascend.last_profile().kernels[0].profile == "one-core"
    with pytest.raises(ValueError, match="unknown Ascend profile"):
        ascend.set_profile("ascend999")


def test_op_records_are_published_for_notebook_tools():
    import mindlab as ms
    from mindlab.jupyter import events
    seen = []
    events.subscribe(seen.append)
    try:
        ms.set_context(device_target="Ascend")
        ms.ops.exp(ms.Tensor(np.zeros(100, np.float32)))
    finally:
        events.unsubscribe(seen.append)
    recs = [e.payload["record"] for e in seen if e.kind == "ascend_op"]
    assert [r.op for r in recs] == ["exp"] and recs[0].cycles > 0


def test_vector_masks_enable_lanes_per_repeat():
    def masked(x_gm, out):
        pipe = TPipe()
        q = TQue(TPosition.VECIN, 1, "q")
        pipe.InitBuffer(q, 1, 512)
        t = q.AllocTensor(np.float32)                     # 128 floats = two 256-byte repeats of 64 lanes
        DataCopy(t, x_gm, 128)
        ascend.Adds(t, t, 100.0, 128, mask=8)             # the first 8 lanes of each repeat
        lanes = np.zeros(64, bool)
        lanes[::2] = True
        ascend.Muls(t, t, -1.0, 128, mask=lanes)          # every other lane
        out.append(t.data[:128].copy())
    x = np.arange(128, dtype=np.float32)
    out = []
    launch(masked, 1, GlobalTensor(x), out)
    want = x.copy()
    want[np.arange(128) % 64 < 8] += 100
    want[::2] *= -1
    np.testing.assert_array_equal(out[0], want)
    with pytest.raises(AscendError, match="mask 65 must be in"):
        launch(_bad_mask, 1, GlobalTensor(x))


def _bad_mask(g):
    pipe = TPipe()
    q = TQue(TPosition.VECIN, 1, "q")
    pipe.InitBuffer(q, 1, 256)
    t = q.AllocTensor(np.float32)
    ascend.Adds(t, t, 1.0, 64, mask=65)


def test_blocks_beyond_the_core_count_queue_on_the_cores():
    n, tile = 8 * 4096, 4096
    x = np.zeros(4 * n, np.float32)
    y = np.empty_like(x)

    def blocks(x_gm, y_gm):
        off = GetBlockIdx() * n
        _exp_kernel(x_gm[off:], y_gm[off:], n, tile, 2)
    two = ASCEND910.replace(name="two-core", ai_cores=2)
    rec4 = launch(blocks, 4, GlobalTensor(x), GlobalTensor(y), profile=two)
    rec2 = launch(blocks, 2, GlobalTensor(x), GlobalTensor(y), profile=two)
    assert rec4.cores == rec2.cores == 2 and rec4.block_dim == 4
    assert rec4.cycles == pytest.approx(2 * rec2.cycles, rel=0.05)
    np.testing.assert_allclose(y, np.e, rtol=1e-6)      # exp(exp(0)) everywhere: every block ran
