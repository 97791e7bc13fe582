"""Dataset pipelines through the public API: sources, batch / shuffle / map / repeat / take / skip / project /
rename, tuple and dict iterators, seeded shuffling, and the errors a researcher hits first."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import dataset as ds
from mindlab.dataset import transforms


def numpy_rows(dataset, **kw):
    return [[np.asarray(c).tolist() for c in row] for row in dataset.create_tuple_iterator(output_numpy=True, **kw)]


def first_column(dataset):
    return [int(row[0]) for row in dataset.create_tuple_iterator(output_numpy=True, num_epochs=1)]


# ---------------------------------------------------------------------------------------------------- sources
def test_numpy_slices_columns_from_dict_tuple_and_array():
    d = ds.NumpySlicesDataset({"x": np.arange(6).reshape(3, 2), "y": [7, 8, 9]}, shuffle=False)
    assert d.get_col_names() == ["x", "y"]
    assert d.get_dataset_size() == 3
    assert numpy_rows(d) == [[[0, 1], 7], [[2, 3], 8], [[4, 5], 9]]

    t = ds.NumpySlicesDataset((np.zeros((4, 2)), np.ones(4)), column_names=["a", "b"], shuffle=False)
    assert t.get_col_names() == ["a", "b"] and t.output_shapes() == [[2], []]

    one = ds.NumpySlicesDataset([1.5, 2.5], shuffle=False)          # a list is one column
    assert one.get_col_names() == ["column_0"]
    assert numpy_rows(one) == [[1.5], [2.5]]


def test_numpy_slices_rejects_mismatched_lengths_and_names():
    with pytest.raises(ValueError, match="same length"):
        ds.NumpySlicesDataset({"x": np.zeros(3), "y": np.zeros(4)})
    with pytest.raises(ValueError, match="column names"):
        ds.NumpySlicesDataset((np.zeros(3), np.zeros(3)), column_names=["only_one"])


def test_tuple_iterator_gives_tensors_with_source_dtypes():
    d = ds.NumpySlicesDataset({"x": np.ones((4, 3), np.float32), "y": np.arange(4, dtype=np.int32)}, shuffle=False)
    x, y = next(iter(d.batch(4).create_tuple_iterator()))
    assert isinstance(x, ms.Tensor) and x.dtype == ms.float32 and x.shape == (4, 3)
    assert y.dtype == ms.int32 and y.asnumpy().tolist() == [0, 1, 2, 3]


def test_dict_iterator_and_columns_selection():
    d = ds.NumpySlicesDataset({"x": np.arange(3), "y": np.arange(3) * 10}, shuffle=False)
    rows = list(d.create_dict_iterator(num_epochs=1, output_numpy=True))
    assert [sorted(r) for r in rows] == [["x", "y"]] * 3
    assert [int(r["y"]) for r in rows] == [0, 10, 20]
    only_y = d.create_tuple_iterator(columns=["y"], num_epochs=1, output_numpy=True)
    assert [int(r[0]) for r in only_y] == [0, 10, 20]
    with pytest.raises(ValueError, match="'z' is not one of"):
        d.create_tuple_iterator(columns=["z"])


def test_iterator_runs_one_epoch_per_loop_and_stops_after_num_epochs():
    d = ds.NumpySlicesDataset(np.arange(3), shuffle=False)
    it = d.create_tuple_iterator(num_epochs=2, output_numpy=True)
    assert [int(r[0]) for r in it] == [0, 1, 2]
    assert [int(r[0]) for r in it] == [0, 1, 2]
    assert list(it) == []


# ---------------------------------------------------------------------------------------------------- operations
def test_batch_values_sizes_and_drop_remainder():
    d = ds.NumpySlicesDataset({"x": np.arange(10)}, shuffle=False)
    assert d.batch(4).get_dataset_size() == 3
    assert numpy_rows(d.batch(4)) == [[[0, 1, 2, 3]], [[4, 5, 6, 7]], [[8, 9]]]
    dropped = d.batch(4, drop_remainder=True)
    assert dropped.get_dataset_size() == 2 and len(numpy_rows(dropped)) == 2
    assert dropped.get_batch_size() == 4


def test_batch_of_unequal_shapes_names_the_column_and_padded_batch_pads():
    rows = [np.arange(n) for n in (1, 3, 2)]
    d = ds.GeneratorDataset(lambda: iter(rows), column_names=["tokens"])
    with pytest.raises(ValueError, match="column 'tokens' has rows of different shapes"):
        list(d.batch(3).create_tuple_iterator())
    padded = d.padded_batch(3, pad_info={"tokens": (None, -1)})
    (tokens,), = numpy_rows(padded)
    assert tokens == [[0, -1, -1], [0, 1, 2], [0, 1, -1]]
    fixed = d.padded_batch(3, pad_info={"tokens": ([4], 0)})
    assert np.asarray(numpy_rows(fixed)[0][0]).shape == (3, 4)


def test_map_replaces_input_columns_in_place():
    d = ds.NumpySlicesDataset({"a": np.arange(3), "b": np.arange(3) * 10, "c": np.arange(3) * 100}, shuffle=False)
    m = d.map(lambda b: (b + 1, b * 2), input_columns="b", output_columns=["b1", "b2"])
    assert m.get_col_names() == ["a", "b1", "b2", "c"]
    assert numpy_rows(m)[2] == [2, 21, 40, 200]
    chained = d.map([lambda x: x + 1, lambda x: x * 3])          # default: the first column, ops in order
    assert [r[0] for r in numpy_rows(chained)] == [3, 6, 9]


def test_map_errors_name_the_operation_and_row():
    d = ds.NumpySlicesDataset({"a": np.arange(3)}, shuffle=False)

    def explode(x):
        if x == 2:
            raise ValueError("bad value")
        return x

    with pytest.raises(ValueError, match=r"operation explode failed on columns \['a'\] of row 2.*bad value"):
        list(d.map(explode).create_tuple_iterator())
    with pytest.raises(ValueError, match="not one of the dataset's columns"):
        d.map(explode, input_columns="nope")
    with pytest.raises(ValueError, match="returned 2 value"):
        list(d.map(lambda a: (a, a)).create_tuple_iterator())


def test_repeat_take_skip_project_rename():
    d = ds.NumpySlicesDataset({"x": np.arange(4), "y": -np.arange(4)}, shuffle=False)
    rep = d.repeat(3)
    assert rep.get_dataset_size() == 12 and first_column(rep) == [0, 1, 2, 3] * 3
    assert first_column(rep.take(6)) == [0, 1, 2, 3, 0, 1] and rep.take(6).get_dataset_size() == 6
    assert first_column(d.skip(3)) == [3] and d.skip(9).get_dataset_size() == 0
    assert d.batch(3).repeat(2).get_dataset_size() == 4
    proj = d.project(["y"])
    assert proj.get_col_names() == ["y"] and first_column(proj) == [0, -1, -2, -3]
    ren = d.rename(["x"], ["z"])
    assert ren.get_col_names() == ["z", "y"]
    assert d.repeat().get_dataset_size() == -1 and d.repeat().take(5).get_dataset_size() == 5
    assert first_column(d.repeat().take(6)) == [0, 1, 2, 3, 0, 1]


# ---------------------------------------------------------------------------------------------------- seeded shuffling
def test_shuffle_is_a_permutation_reproducible_under_set_seed_and_reshuffles_each_epoch():
    def build():
        return ds.NumpySlicesDataset(np.arange(20), shuffle=False).shuffle(buffer_size=8)

    ms.set_seed(3)
    a = build()
    it = a.create_tuple_iterator(output_numpy=True)
    epoch1, epoch2 = [int(r[0]) for r in it], [int(r[0]) for r in it]
    assert sorted(epoch1) == list(range(20)) and sorted(epoch2) == list(range(20))
    assert epoch1 != list(range(20)) and epoch1 != epoch2

    ms.set_seed(3)
    b = build()
    it = b.create_tuple_iterator(output_numpy=True)
    assert [int(r[0]) for r in it] == epoch1 and [int(r[0]) for r in it] == epoch2

    ms.set_seed(4)
    assert first_column(build()) != epoch1


def test_source_shuffle_and_dataset_config_seed():
    ms.set_seed(0)
    order0 = first_column(ds.NumpySlicesDataset(np.arange(30)))       # shuffle=None shuffles a slices source
    assert sorted(order0) == list(range(30)) and order0 != list(range(30))
    ds.config.set_seed(11)
    assert ds.config.get_seed() == 11
    order11 = first_column(ds.NumpySlicesDataset(np.arange(30)))
    ds.config.set_seed(11)
    assert first_column(ds.NumpySlicesDataset(np.arange(30))) == order11 != order0
    ms.set_seed(0)                         # the global seed, set later, wins again
    assert ds.config.get_seed() == 0
    assert first_column(ds.NumpySlicesDataset(np.arange(30))) == order0


def test_repeat_reshuffles_every_repetition():
    ms.set_seed(1)
    d = ds.NumpySlicesDataset(np.arange(8)).repeat(2)
    rows = first_column(d)
    assert sorted(rows[:8]) == sorted(rows[8:]) == list(range(8)) and rows[:8] != rows[8:]


def test_shards_split_the_rows_evenly():
    shards = [first_column(ds.NumpySlicesDataset(np.arange(10), shuffle=False, num_shards=3, shard_id=i))
              for i in range(3)]
    assert [len(s) for s in shards] == [4, 4, 4]
    assert set(sum(shards, [])) == set(range(10))
    assert ds.NumpySlicesDataset(np.arange(10), num_shards=3, shard_id=0).get_dataset_size() == 4
    with pytest.raises(ValueError, match="shard_id"):
        ds.NumpySlicesDataset(np.arange(10), num_shards=3, shard_id=3)


# ---------------------------------------------------------------------------------------------------- GeneratorDataset
def test_generator_dataset_from_callable_iterable_and_random_access():
    gen = ds.GeneratorDataset(lambda: ((i, i * i) for i in range(5)), column_names=["i", "sq"])
    assert gen.get_dataset_size() == 5                                   # counted by iterating
    assert numpy_rows(gen.batch(5)) == [[[0, 1, 2, 3, 4], [0, 1, 4, 9, 16]]]

    class Squares:
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return np.float32(i), np.float32(i * i)

    ms.set_seed(2)
    ra = ds.GeneratorDataset(Squares(), ["x", "y"])                       # random access: shuffled by default
    rows = numpy_rows(ra)
    assert sorted(r[0] for r in rows) == [0, 1, 2, 3, 4, 5] and all(r[1] == r[0] ** 2 for r in rows)
    assert [r[0] for r in rows] != [0, 1, 2, 3, 4, 5]
    plain = ds.GeneratorDataset(Squares(), ["x", "y"], shuffle=False, num_samples=3)
    assert [r[0] for r in numpy_rows(plain)] == [0, 1, 2] and plain.get_dataset_size() == 3


def test_generator_dataset_errors():
    with pytest.raises(ValueError, match="column_names is required"):
        ds.GeneratorDataset(lambda: iter([]))
    with pytest.raises(ValueError, match="shuffle=True needs a random-access source"):
        ds.GeneratorDataset(lambda: iter([1]), ["a"], shuffle=True)
    bad = ds.GeneratorDataset(lambda: iter([(1, 2, 3)]), ["a", "b"])
    with pytest.raises(ValueError, match="row 0 has 3 value"):
        list(bad.create_tuple_iterator())


def test_unsupported_dtype_column_gets_a_clear_error():
    d = ds.NumpySlicesDataset({"u": np.arange(3, dtype=np.uint32)}, shuffle=False)
    with pytest.raises(TypeError, match="column 'u' has dtype uint32"):
        list(d.create_tuple_iterator())
    fixed = d.map(transforms.TypeCast(ms.int32), input_columns="u")
    assert next(iter(fixed.create_tuple_iterator()))[0].dtype == ms.int32


# ---------------------------------------------------------------------------------------------------- transforms
def test_transforms():
    assert transforms.TypeCast(ms.float16)(np.array([1, 2])).dtype == np.float16
    assert transforms.OneHot(4)(np.array([1, 3])).tolist() == [[0, 1, 0, 0], [0, 0, 0, 1]]
    smooth = transforms.OneHot(4, smoothing_rate=0.2)(np.array(0))
    np.testing.assert_allclose(smooth, [0.85, 0.05, 0.05, 0.05], rtol=1e-6)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\)"):
        transforms.OneHot(4)(np.array([4]))
    both = transforms.Compose([transforms.TypeCast(np.int64), transforms.OneHot(3)])
    assert both(np.array(2.0)).tolist() == [0, 0, 1]
    assert transforms.PadEnd([4], -1)(np.array([5, 6])).tolist() == [5, 6, -1, -1]
    a, b = transforms.Duplicate()(np.array([1, 2]))
    assert a.tolist() == b.tolist() == [1, 2]

    d = ds.NumpySlicesDataset({"label": np.array([0, 2], np.int32)}, shuffle=False)
    d = d.map(transforms.OneHot(3), input_columns="label").batch(2)
    assert numpy_rows(d) == [[[[1, 0, 0], [0, 0, 1]]]]


@pytest.mark.parametrize("drop", [False, True])
@pytest.mark.parametrize("shards", [None, 3])
def test_batches_sliced_at_once_equal_stacked_rows(drop, shards):
    """NumpySlicesDataset.batch slices whole batches by fancy indexing; a map in between forces the row-by-row
    path: both give the same batches (values, shapes, dtypes) in the same seeded order."""
    from mindlab.dataset import NumpySlicesDataset
    data = {"x": np.arange(23 * 3, dtype=np.float32).reshape(23, 3), "y": np.arange(23, dtype=np.int32)}
    kw = {"num_shards": shards, "shard_id": 1} if shards else {}
    fast = NumpySlicesDataset(data, shuffle=True, **kw).batch(4, drop_remainder=drop)
    rows = NumpySlicesDataset(data, shuffle=True, **kw).map(lambda v: v, input_columns=["x"]).batch(
        4, drop_remainder=drop)
    for epoch in range(2):
        a = list(fast.create_tuple_iterator(output_numpy=True, num_epochs=1))
        b = list(rows.create_tuple_iterator(output_numpy=True, num_epochs=1))
        assert len(a) == len(b) and len(a) == fast.get_dataset_size()
        for (ax, ay), (bx, by) in zip(a, b):
            assert ax.dtype == bx.dtype and ay.dtype == by.dtype
            np.testing.assert_array_equal(ax, bx)
            np.testing.assert_array_equal(ay, by)
