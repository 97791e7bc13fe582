"""Redistribution: every pair of layouts on 1-D and 2-D meshes reproduces the tensor exactly on the sim backend,
and the search picks the cheap collective for the textbook cases."""
import numpy as np
import pytest

from mindlab.parallel import DeviceMesh, SimWorld, TensorLayout, redistribute, collective_cost
from mindlab.parallel.collectives import DeviceProfile

from .layouts_util import all_layouts


def pieces_for(layout, full, rng):
    """Every device's piece of ``full`` in ``layout``; partial layouts get random integer parts that sum to it
    (replicas stay equal), so a wrong reduction cannot pass by accident."""
    mesh = layout.mesh
    noise = {}
    out = []
    for d in mesh.devices:
        base = np.array(full[layout.slices(d)])
        if layout.partial_axes:
            c = mesh.coord(d)
            key = tuple(c[a] for a in layout.partial_axes)
            block = layout.block_index(d)
            groups = [k for k in np.ndindex(*(mesh.shape[a] for a in layout.partial_axes)) if any(k)]
            for k in groups:
                noise.setdefault((block, k), rng.integers(-9, 9, size=base.shape).astype(full.dtype))
            base = noise[(block, key)] if any(key) else base - sum(noise[(block, k)] for k in groups)
        out.append(base)
    return out


@pytest.mark.parametrize("mesh_shape, tensor_shape", [((4,), (4, 8)), ((2, 2), (4, 4)), ((2, 3), (6, 6)),
                                                      ((2, 2), (4, 2, 6))])
def test_every_pair_reproduces_the_tensor(mesh_shape, tensor_shape):
    mesh = DeviceMesh(mesh_shape)
    rng = np.random.default_rng(0)
    full = rng.integers(-100, 100, size=tensor_shape).astype(np.float64)
    layouts = all_layouts(mesh, tensor_shape)
    world = SimWorld(mesh.size)
    pairs = 0
    for src in layouts:
        src_pieces = pieces_for(src, full, rng)
        assert np.array_equal(src.assemble(src_pieces), full)
        for dst in layouts:
            world.log.clear()
            r = redistribute(src, dst, itemsize=8)
            out = r.run_sim(src_pieces, world)
            assert all(o.shape == dst.slice_shape for o in out), (src, dst)
            assert np.array_equal(dst.assemble(out), full), f"{src!r} -> {dst!r} via {r!r}"
            if not dst.is_partial:       # every piece is exactly the dst slice
                for d, o in zip(mesh.devices, out):
                    assert np.array_equal(o, full[dst.slices(d)])
            # the collectives that ran are the planned ones, one call per group along the step's axis
            ran = [e["kind"] for e in world.log]
            planned = [s.kind for s in r.collectives for _ in mesh.groups(s.axis)]
            assert ran == planned
            pairs += 1
    assert pairs == len(layouts) ** 2 and pairs >= 16


def test_identity_is_free():
    mesh = DeviceMesh((2, 2), ("dp", "mp"))
    lay = TensorLayout(mesh, (1, 0), (4, 4))
    r = redistribute(lay, lay)
    assert len(r) == 0 and r.time == 0 and r.bytes_per_device == 0


def test_textbook_choices():
    mesh = DeviceMesh((2, 4), ("dp", "mp"))
    shape = (8, 16)
    L = lambda *m, **kw: TensorLayout(mesh, m, shape, **kw)  # noqa: E731
    # moving a split between dims: one all_to_all, not all_gather + split
    r = redistribute(L(0, -1), L(-1, 0))
    assert r.kinds == ("all_to_all",) and r.steps[0].axis_name == "mp"
    # partial sums that end split: reduce_scatter, not all_reduce + split
    r = redistribute(L(-1, -1, partial=["mp"]), L(0, -1))
    assert r.kinds == ("reduce_scatter",)
    # partial sums that end replicated: all_reduce
    assert redistribute(L(1, -1, partial=["mp"]), L(1, -1)).kinds == ("all_reduce",)
    # replicated to split: a local slice, no bytes sent
    r = redistribute(L(-1, -1), L(1, 0))
    assert set(r.kinds) == {"split"} and r.bytes_per_device == 0 and not r.collectives
    # split to replicated: one all_gather per axis
    assert sorted(redistribute(L(1, 0), L(-1, -1)).kinds) == ["all_gather", "all_gather"]


def test_bytes_and_time_follow_the_cost_model():
    mesh = DeviceMesh((4,), ("x",))
    src = TensorLayout(mesh, (0, -1), (8, 8))         # 2 x 8 float32 = 64 bytes per device
    dst = TensorLayout(mesh, (-1, -1), (8, 8))
    prof = DeviceProfile("t", flops=1e12, memory_bandwidth=1e11, bandwidth=1e9, latency=1e-5, topology="ring")
    r = redistribute(src, dst, itemsize=4, profile=prof)
    (step,) = r.steps
    want = collective_cost("all_gather", 64, 4, prof)
    assert step.cost == want
    assert step.bytes_per_device == 3 * 64                     # ring all_gather sends (p-1) pieces
    assert r.time == pytest.approx(3 * 1e-5 + 3 * 64 / 1e9)
    assert r.to_json()[0]["kind"] == "all_gather" and r.to_json()[0]["mesh_axes"] == ["x"]


def test_per_axis_links_cost_each_step_on_its_axis():
    mesh = DeviceMesh((2, 2), ("node", "gpu"))
    shape = (256, 256)
    prof = DeviceProfile("two-level", flops=1e12, memory_bandwidth=1e11, bandwidth=1e11, latency=1e-6,
                         axis_links={"node": (1e9, 1e-5)})       # a slow link between nodes
    piece = 128 * 256 * 4

    def plan(axis):
        src = TensorLayout.from_axes(mesh, shape, (axis, None))
        return redistribute(src, TensorLayout.replicated(mesh, shape), profile=prof)

    fast = plan("gpu")
    assert fast.kinds == ("all_gather",)
    assert fast.time == pytest.approx(collective_cost("all_gather", piece, 2, prof, axis="gpu").time)
    slow = plan("node")
    naive = collective_cost("all_gather", piece, 2, prof, axis="node").time
    assert slow.time > 20 * fast.time
    # hierarchical: split the piece over the fast axis first, so the slow link carries half the bytes
    assert slow.time < naive
    assert slow.kinds == ("split", "all_gather", "all_gather")
    assert [s.axis_name for s in slow.steps] == ["gpu", "node", "gpu"]
    assert slow.steps[1].bytes_per_device == piece / 2


def test_errors():
    m1, m2 = DeviceMesh((2, 2)), DeviceMesh((4,))
    with pytest.raises(ValueError, match="different meshes"):
        redistribute(TensorLayout.replicated(m1, (4,)), TensorLayout.replicated(m2, (4,)))
    with pytest.raises(ValueError, match="different shapes"):
        redistribute(TensorLayout.replicated(m1, (4,)), TensorLayout.replicated(m1, (8,)))
    r = redistribute(TensorLayout(m1, (1,), (4,)), TensorLayout.replicated(m1, (4,)))
    with pytest.raises(ValueError, match=r"device 0 holds shape \(4,\)"):
        r.run_sim([np.zeros(4)] * 4)
