"""set_auto_parallel_context / get_auto_parallel_context / reset_auto_parallel_context."""
import pytest

import mindlab as ms
from mindlab import communication
from mindlab.parallel import DeviceProfile, PROFILES, SimWorld
from mindlab.parallel.context import current_mesh, current_profile


@pytest.fixture(autouse=True)
def _reset():
    ms.reset_auto_parallel_context()
    yield
    ms.reset_auto_parallel_context()
    communication.release()


def test_defaults_and_roundtrip():
    assert ms.get_auto_parallel_context("parallel_mode") == ms.ParallelMode.STAND_ALONE == "stand_alone"
    assert ms.get_auto_parallel_context("device_num") == 1
    assert ms.get_auto_parallel_context("global_rank") == 0
    assert ms.get_auto_parallel_context("search_mode") == "sharding_propagation"
    assert ms.get_auto_parallel_context("gradients_mean") is False
    assert ms.get_auto_parallel_context("memory_limit") is None
    ms.set_auto_parallel_context(parallel_mode="auto_parallel", device_num=8, search_mode="dynamic_programming",
                                 global_rank=3, gradients_mean=True, memory_limit="2GiB", mesh_shape=(2, 4),
                                 mesh_axis_names=("dp", "mp"), device_target_profile="gpu-nvlink")
    assert ms.get_auto_parallel_context("parallel_mode") == ms.ParallelMode.AUTO_PARALLEL
    assert ms.get_auto_parallel_context("device_num") == 8
    assert ms.get_auto_parallel_context("global_rank") == 3
    assert ms.get_auto_parallel_context("memory_limit") == 2 * 2 ** 30
    assert ms.get_auto_parallel_context("mesh_shape") == (2, 4)
    assert current_mesh().axis_names == ("dp", "mp") and current_mesh().shape == (2, 4)
    assert current_profile() is PROFILES["gpu-nvlink"]
    ms.set_auto_parallel_context(search_mode="ilp", memory_limit=1000)      # a partial update keeps the rest
    assert ms.get_auto_parallel_context("device_num") == 8
    assert ms.get_auto_parallel_context("memory_limit") == 1000
    ms.reset_auto_parallel_context()
    assert ms.get_auto_parallel_context("device_num") == 1 and ms.get_auto_parallel_context("mesh_shape") is None


def test_memory_limit_units():
    for text, want in (("16GB", 16 * 10 ** 9), ("512 MiB", 512 * 2 ** 20), ("1.5kb", 1500), (4096, 4096)):
        ms.set_auto_parallel_context(memory_limit=text)
        assert ms.get_auto_parallel_context("memory_limit") == want
    ms.set_auto_parallel_context(memory_limit=None)
    assert ms.get_auto_parallel_context("memory_limit") is None


@pytest.mark.parametrize("kwargs, message", [
    ({"parallel_mode": "model_parallel"}, r"parallel_mode must be one of \['stand_alone', 'data_parallel', "
                                          r"'semi_auto_parallel', 'auto_parallel'\], got 'model_parallel'"),
    ({"device_num": 0}, r"device_num must be an int in \[1, 4096\], got 0"),
    ({"device_num": 2.0}, "device_num must be an int"),
    ({"global_rank": -1}, "global_rank must be an int"),
    ({"search_mode": "recursive_programming"}, r"search_mode must be one of \['sharding_propagation', "
                                              r"'dynamic_programming', 'ilp'\]"),
    ({"gradients_mean": 1}, "gradients_mean must be True or False"),
    ({"memory_limit": "lots"}, "memory_limit must be None, a positive number of bytes, or a string"),
    ({"memory_limit": -5}, "memory_limit must be"),
    ({"mesh_shape": (2, 0)}, "mesh_shape must be None or a non-empty tuple of positive ints"),
    ({"device_target_profile": "tpu"}, "device_target_profile must be None, a DeviceProfile, or one of"),
    ({"pipeline_stages": 2}, "unknown option 'pipeline_stages'"),
    ({"device_num": 4, "global_rank": 4}, "global_rank 4 is not below device_num 4"),
    ({"device_num": 8, "mesh_shape": (2, 2)}, r"mesh_shape \(2, 2\) holds 4 devices but device_num is 8"),
    ({"device_num": 4, "mesh_shape": (2, 2), "mesh_axis_names": ("a",)}, "mesh_axis_names"),
])
def test_bad_values_name_the_option(kwargs, message):
    ms.set_auto_parallel_context(device_num=2, parallel_mode="data_parallel")
    with pytest.raises(ValueError, match=message):
        ms.set_auto_parallel_context(**kwargs)
    # nothing was applied
    assert ms.get_auto_parallel_context("device_num") == 2
    assert ms.get_auto_parallel_context("parallel_mode") == "data_parallel"


def test_unknown_key_on_get():
    with pytest.raises(ValueError, match="unknown option 'mode'"):
        ms.get_auto_parallel_context("mode")


def test_device_num_and_rank_follow_communication_when_unset():
    def fn():
        return ms.get_auto_parallel_context("device_num"), ms.get_auto_parallel_context("global_rank")

    assert SimWorld(4).run(fn) == [(4, 0), (4, 1), (4, 2), (4, 3)]
    ms.set_auto_parallel_context(device_num=2)
    assert SimWorld(2).run(fn) == [(2, 0), (2, 1)]


def test_profile_follows_device_target_and_accepts_a_profile():
    assert current_profile() is PROFILES["cpu"]
    custom = DeviceProfile("mine", flops=1e9, memory_bandwidth=1e9, bandwidth=1e8, latency=1e-4)
    ms.set_auto_parallel_context(device_target_profile=custom)
    assert current_profile() is custom
