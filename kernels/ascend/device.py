"""Device profiles of the simulated Da Vinci AI core: buffer sizes, unit widths, bandwidths, latencies, clock.

Every number the simulator uses lives here, in one named ``AscendProfile``; nothing else in ``kernels/ascend``
hard-codes a size or a rate. ``ASCEND910`` follows the public figures of the Ascend 910 (32 AI cores at 1 GHz, a
16x16x16 fp16 Cube per core = 4096 MAC/cycle, 256 TFLOP/s fp16 peak for the chip, 1.2 TB/s HBM, 32 MB L2, buffer
sizes of the Ascend C programming guide). Per-pipe rates that are not published (MTE bytes/cycle, instruction
latencies) are round values of the right order, stated as such in ``source``.

``use_profile(p)`` (a context manager) or ``set_profile(p)`` selects the profile kernels run on;
``profile.replace(ai_cores=1)`` derives a variant (a one-core chip for a notebook, a bigger UB for an experiment).
"""
import contextlib
import dataclasses
from dataclasses import dataclass

__all__ = ["AscendProfile", "ASCEND910", "ASCEND310", "PROFILES", "current_profile", "set_profile", "use_profile"]

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class AscendProfile:
    name: str
    ai_cores: int               # AI cores a kernel may spread its blocks over (block_dim <= ai_cores)
    clock_hz: float             # core clock: cycles -> seconds
    # on-chip buffers of one AI core, bytes
    l1: int
    ub: int
    l0a: int
    l0b: int
    l0c: int
    # unit widths
    cube_m: int                 # the Cube multiplies (cube_m x cube_k) by (cube_k x cube_n) per cycle
    cube_k: int
    cube_n: int
    vector_bytes: int           # bytes the Vector unit processes per cycle (one repeat)
    # data movement, bytes per cycle per core
    mte2_bytes: float           # GM -> L1 / UB link of one core
    mte1_bytes: float           # L1 -> L0A / L0B
    mte3_bytes: float           # UB -> GM link of one core
    l0c_to_ub_bytes: float      # L0C -> UB (the Vector unit moves Cube results out)
    # chip-level memory system, bytes per second
    hbm_bandwidth: float        # shared by all cores
    l2_size: int
    l2_bandwidth: float         # re-reads of data already in L2 (matmul tiles reused by other tiles)
    # fixed costs, cycles
    mte_latency: int            # per DataCopy instruction (descriptor + first beat)
    mte_burst: int              # per extra burst (row) of a strided/padded copy
    vector_startup: int         # per vector instruction
    cube_startup: int           # per Mmad
    scalar_issue: int           # the Scalar unit issues every instruction
    scalar_op: float            # cycles per element of work the Scalar unit does itself (irregular ops)
    alignment: int = 32         # bytes: local tensor addresses and DataCopy lengths
    fractal: int = 16           # fractal edge (FRACTAL_NZ tiles are 16 x 16; C0 = 16 for NC1HWC0 fp16)
    source: str = ""

    def replace(self, **changes):
        """A copy with some fields changed (``ASCEND910.replace(ai_cores=1, name="ascend910-1core")``)."""
        return dataclasses.replace(self, **changes)

    # derived rates
    @property
    def cube_macs(self):
        return self.cube_m * self.cube_k * self.cube_n

    @property
    def peak_flops(self):
        """Chip fp16 Cube peak, FLOP/s (2 flops per MAC)."""
        return 2.0 * self.cube_macs * self.ai_cores * self.clock_hz

    @property
    def hbm_bytes_per_cycle(self):
        return self.hbm_bandwidth / self.clock_hz

    @property
    def l2_bytes_per_cycle(self):
        return self.l2_bandwidth / self.clock_hz

    def buffer_size(self, name):
        return {"L1": self.l1, "UB": self.ub, "L0A": self.l0a, "L0B": self.l0b, "L0C": self.l0c}[name]


ASCEND910 = AscendProfile(
    name="ascend910", ai_cores=32, clock_hz=1.0e9,
    l1=1 * MiB, ub=256 * KiB, l0a=64 * KiB, l0b=64 * KiB, l0c=256 * KiB,
    cube_m=16, cube_k=16, cube_n=16, vector_bytes=256,
    mte2_bytes=128.0, mte1_bytes=256.0, mte3_bytes=128.0, l0c_to_ub_bytes=256.0,
    hbm_bandwidth=1.2e12, l2_size=32 * MiB, l2_bandwidth=4.8e12,
    mte_latency=32, mte_burst=1, vector_startup=8, cube_startup=16, scalar_issue=1, scalar_op=4.0,
    source="Ascend 910 public figures (32 AI cores, 1 GHz, 4096 fp16 MAC/cycle/core = 262 TFLOP/s, 1.2 TB/s HBM, "
           "32 MB L2; L1 1 MB, UB 256 KB, L0A/L0B 64 KB, L0C 256 KB per core, Vector 256 B/cycle); MTE rates, "
           "L2 bandwidth and latencies are round modelling values, not measurements")

ASCEND310 = ASCEND910.replace(
    name="ascend310", ai_cores=2, hbm_bandwidth=47.7e9, l2_size=8 * MiB, l2_bandwidth=200e9,
    source="Ascend 310-like: 2 AI cores of the same design, LPDDR4x memory (47.7 GB/s); modelling values")

PROFILES = {p.name: p for p in (ASCEND910, ASCEND310)}

_current = [ASCEND910]


def current_profile():
    return _current[0]


def set_profile(profile):
    """Select the profile kernels run on: an AscendProfile or a name in PROFILES."""
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise ValueError(f"unknown Ascend profile {profile!r}; known: {sorted(PROFILES)}")
        profile = PROFILES[profile]
    if not isinstance(profile, AscendProfile):
        raise TypeError(f"set_profile: expected an AscendProfile or a name, got {type(profile).__name__}")
    _current[0] = profile
    return profile


@contextlib.contextmanager
def use_profile(profile):
    saved = _current[0]
    try:
        yield set_profile(profile)
    finally:
        _current[0] = saved
