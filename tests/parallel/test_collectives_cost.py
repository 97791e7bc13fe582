"""The alpha-beta cost model: formulas per collective and topology, profiles, calibration on the sim backend."""
import math

import pytest

from mindlab.parallel import (DeviceProfile, PROFILES, SimWorld, calibrate, collective_cost, compute_time,
                              get_profile)

A, BW = 1e-5, 1e9          # latency, bandwidth
B = 1 / BW


def prof(topology):
    return DeviceProfile("t", flops=1e12, memory_bandwidth=1e11, bandwidth=BW, latency=A, topology=topology)


N = 1 << 20


@pytest.mark.parametrize("kind, p, want_time, want_bytes, alg", [
    ("all_reduce", 4, 2 * 3 * A + 2 * 3 / 4 * N * B, 2 * 3 / 4 * N, "ring"),
    ("all_gather", 4, 3 * A + 3 * N * B, 3 * N, "ring"),
    ("reduce_scatter", 8, 7 * A + 7 / 8 * N * B, 7 / 8 * N, "ring"),
    ("all_to_all", 4, 3 * A + 3 / 4 * N * B, 3 / 4 * N, "pairwise"),
    ("send_recv", 2, A + N * B, N, "direct"),
    ("broadcast", 4, (3 + 2) * A + 2 * 3 / 4 * N * B, 2 * 3 / 4 * N, "scatter_ring_allgather"),
])
def test_ring_formulas(kind, p, want_time, want_bytes, alg):
    c = collective_cost(kind, N, p, prof("ring"))
    assert c.time == pytest.approx(want_time)
    assert c.bytes_per_device == pytest.approx(want_bytes)
    assert c.algorithm == alg and c.group_size == p


def test_tree_topology_picks_latency_friendly_algorithms():
    small, large = 64, 1 << 24
    c = collective_cost("all_reduce", small, 8, prof("tree"))
    assert c.algorithm == "recursive_doubling" and c.time == pytest.approx(3 * (A + small * B))
    c = collective_cost("all_reduce", large, 8, prof("tree"))
    assert c.algorithm == "halving_doubling"
    assert c.time == pytest.approx(2 * 3 * A + 2 * 7 / 8 * large * B)
    # a switch considers everything: never worse than ring or tree
    for kind in ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast"):
        for n in (small, large):
            sw = collective_cost(kind, n, 8, prof("switch")).time
            assert sw <= collective_cost(kind, n, 8, prof("ring")).time + 1e-15
            assert sw <= collective_cost(kind, n, 8, prof("tree")).time + 1e-15
    # non-power-of-two groups round the number of rounds up
    assert collective_cost("all_reduce", small, 6, prof("tree")).time == pytest.approx(3 * (A + small * B))


def test_local_steps_and_trivial_groups():
    c = collective_cost("split", 1e6, 4, prof("ring"))
    assert c.bytes_per_device == 0 and c.time == pytest.approx(1e6 / 1e11)
    assert collective_cost("all_reduce", 1e6, 1, prof("ring")).time == 0
    with pytest.raises(ValueError, match="unknown collective 'all_sum'"):
        collective_cost("all_sum", 10, 4)
    with pytest.raises(ValueError, match="topology must be one of"):
        collective_cost("all_reduce", 10, 4, topology="torus")


def test_profiles_and_compute_roofline():
    assert get_profile() is PROFILES["cpu"] and get_profile("gpu-nvlink").bandwidth == 300e9
    with pytest.raises(ValueError, match="unknown device profile 'tpu'"):
        get_profile("tpu")
    p = prof("ring")
    assert compute_time(2e12, 0, p) == pytest.approx(2.0)
    assert compute_time(1, 1e11, p) == pytest.approx(1.0)        # memory bound
    assert DeviceProfile.from_json(p.to_json()) == p
    with pytest.raises(ValueError, match="bandwidth must be a positive number"):
        DeviceProfile("bad", flops=1, memory_bandwidth=1, bandwidth=0, latency=0)


def test_calibrate_on_sim_gives_a_usable_profile():
    p = calibrate(world=SimWorld(4), sizes=[1 << 12, 1 << 16, 1 << 20], repeats=2)
    assert p.name == "cpu-calibrated-sim" and "4 sim ranks" in p.source
    for key in ("flops", "memory_bandwidth", "bandwidth"):
        v = getattr(p, key)
        assert math.isfinite(v) and v > 0
    assert p.latency >= 0
    # the calibrated profile feeds the model
    assert collective_cost("all_reduce", 1 << 20, 4, p).time > 0
    with pytest.raises(ValueError, match="at least 2 ranks"):
        calibrate(world=SimWorld(1))
