"""DeviceMesh and TensorLayout: coordinates, sub-groups, tensor maps, slices, errors."""
import numpy as np
import pytest

from mindlab.parallel import DeviceMesh, TensorLayout, LayoutError


# ------------------------------------------------------------------------------------------------ mesh
def test_mesh_coordinates_and_groups():
    mesh = DeviceMesh((2, 4), ("dp", "mp"))
    assert mesh.size == 8 and mesh.ndim == 2 and mesh.device_matrix == (2, 4)
    assert mesh.coord(6) == (1, 2) and mesh.device((1, 2)) == 6
    assert mesh.groups("mp") == ((0, 1, 2, 3), (4, 5, 6, 7))
    assert mesh.groups("dp") == ((0, 4), (1, 5), (2, 6), (3, 7))
    assert mesh.groups(("dp", "mp")) == ((0, 1, 2, 3, 4, 5, 6, 7),)
    assert mesh.groups(("mp", "dp")) == ((0, 4, 1, 5, 2, 6, 3, 7),)
    assert mesh.group_of(6, "dp") == (2, 6) and mesh.index_in_group(6, "dp") == 1
    assert mesh.map_index("mp") == 0 and mesh.map_index("dp") == 1     # MindSpore counts from the right
    assert mesh.axis_from_map(1) == 0


def test_mesh_custom_device_ids():
    mesh = DeviceMesh((2, 2), ("a", "b"), device_ids=[3, 2, 1, 0])
    assert mesh.coord(3) == (0, 0) and mesh.coord(0) == (1, 1)
    assert mesh.groups("b") == ((3, 2), (1, 0))
    assert DeviceMesh.from_json(mesh.to_json()) == mesh
    assert mesh != DeviceMesh((2, 2), ("a", "b"))


def test_mesh_errors():
    with pytest.raises(ValueError, match="axis names"):
        DeviceMesh((2, 2), ("a",))
    with pytest.raises(ValueError, match="distinct"):
        DeviceMesh((2, 2), ("a", "a"))
    with pytest.raises(ValueError, match="4 device ids"):
        DeviceMesh((2, 3), device_ids=range(4))
    mesh = DeviceMesh((2, 4), ("dp", "mp"))
    with pytest.raises(ValueError, match="no axis named 'tp'"):
        mesh.axis_index("tp")
    with pytest.raises(ValueError, match="device 9 is not in the mesh"):
        mesh.coord(9)


# ---------------------------------------------------------------------------------------------- layout
def test_tensor_map_slices_and_ranges():
    mesh = DeviceMesh((2, 4), ("dp", "mp"))
    lay = TensorLayout(mesh, (1, 0), (8, 12))           # rows over dp, columns over mp
    assert lay.dim_axis_names == (("dp",), ("mp",))
    assert lay.splits == (2, 4) and lay.slice_shape == (4, 3)
    assert lay.slice_ranges(6) == ((4, 8), (6, 9))       # device 6 = (dp 1, mp 2)
    full = np.arange(96).reshape(8, 12)
    np.testing.assert_array_equal(lay.local(full, 6), full[4:8, 6:9])
    assert lay.is_replicated("dp") is False and lay.replicated_axes == ()
    assert np.array_equal(lay.assemble(lay.shard(full)), full)


def test_replication_and_multi_axis_dims():
    mesh = DeviceMesh((2, 2, 2), ("a", "b", "c"))
    lay = TensorLayout(mesh, ((2, 0), -1), (8, 3))       # dim 0 over a (major) then c
    assert lay.dim_axis_names == (("a", "c"), ())
    assert lay.slice_shape == (2, 3)
    assert lay.replicated_axes == (1,) and lay.is_replicated("b") and not lay.is_replicated()
    # device (a=1, b=0, c=1) holds block 1*2 + 1 = 3
    assert lay.slice_ranges(mesh.device((1, 0, 1))) == ((6, 8), (0, 3))
    assert lay.tensor_map == ((2, 0), -1)
    full = np.arange(24.0).reshape(8, 3)
    pieces = lay.shard(full)
    assert np.array_equal(lay.assemble(pieces), full)
    pieces[mesh.device((0, 1, 0))] = pieces[mesh.device((0, 1, 0))] + 1    # a replica that disagrees
    with pytest.raises(ValueError, match="should hold the same replica"):
        lay.assemble(pieces)


def test_partial_layout_sums():
    mesh = DeviceMesh((2, 2), ("dp", "mp"))
    lay = TensorLayout(mesh, (1, -1), (4, 2), partial=["mp"])
    assert lay.is_partial and lay.partial_map == (0,) and lay.replicated_axes == ()
    full = np.arange(8.0).reshape(4, 2)
    pieces = lay.shard(full)
    assert np.array_equal(pieces[1], np.zeros((2, 2)))         # mp coordinate 1 holds zeros
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(2, 2))
    pieces[0], pieces[1] = pieces[0] - noise, pieces[1] + noise  # any split of the sum
    np.testing.assert_allclose(lay.assemble(pieces), full)


def test_from_strategy_places_splits_on_mesh_axes():
    mesh = DeviceMesh((2, 4), ("dp", "mp"))
    assert TensorLayout.from_strategy((2, 4), mesh, (8, 8)).dim_axis_names == (("dp",), ("mp",))
    assert TensorLayout.from_strategy((4, 2), mesh, (8, 8)).dim_axis_names == (("mp",), ("dp",))
    assert TensorLayout.from_strategy((1, 4), mesh, (8, 8)).tensor_map == (-1, 0)
    assert TensorLayout.from_strategy((8, 1), mesh, (8, 8)).dim_axis_names == (("dp", "mp"), ())
    assert TensorLayout.from_strategy((1, 1), mesh, (8, 8)).is_replicated()
    m3 = DeviceMesh((2, 2, 2))
    assert TensorLayout.from_strategy((2, 4), m3, (4, 4)).dim_axes == ((0,), (1, 2))


def test_from_axes_matches_tensor_map():
    mesh = DeviceMesh((2, 4), ("dp", "mp"))
    a = TensorLayout.from_axes(mesh, (8, 8), ("mp", "None"))
    assert a == TensorLayout(mesh, (0, -1), (8, 8))
    assert a != TensorLayout(mesh, (1, -1), (8, 8))
    assert hash(a) == hash(TensorLayout(mesh, [0, -1], (8, 8)))
    assert TensorLayout.from_json(a.to_json(), mesh, (8, 8)) == a


def test_layout_errors_are_clear():
    mesh = DeviceMesh((2, 4), ("dp", "mp"))
    with pytest.raises(LayoutError, match=r"dim 1 of shape \(8, 10\) is split 4 ways .*'mp'.* 10 is not divisible"):
        TensorLayout(mesh, (1, 0), (8, 10))
    with pytest.raises(ValueError, match=r"dim 0 of shape \(6, 8\) is split 4 ways by strategy \(4, 1\)"):
        TensorLayout.from_strategy((4, 1), mesh, (6, 8))
    with pytest.raises(LayoutError, match="cannot be placed"):
        TensorLayout.from_strategy((2, 2), mesh, (8, 8))       # 2 x 2 = 4 pieces, but no second axis of size 2
    with pytest.raises(LayoutError, match="does not divide the 8 devices"):
        TensorLayout.from_strategy((3, 1), mesh, (6, 8))
    with pytest.raises(LayoutError, match="used more than once"):
        TensorLayout(mesh, (0, 0), (8, 8))
    with pytest.raises(LayoutError, match="tensor map value 2 does not name an axis"):
        TensorLayout(mesh, (2, -1), (8, 8))
    with pytest.raises(LayoutError, match="has 1 entries but the tensor has shape"):
        TensorLayout(mesh, (1,), (8, 8))
    with pytest.raises(LayoutError, match="used more than once"):
        TensorLayout(mesh, (1, -1), (8, 8), partial=["dp"])
