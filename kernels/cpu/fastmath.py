"""Vectorisable elementwise math for generated numba kernels: exp, log, tanh and sigmoid without libm calls.

numba's ``math.exp`` / ``math.tanh`` are scalar libm calls here (the PyPI llvmlite has no SVML), so a loop that
uses them is never vectorised. The float32 functions below are written only with arithmetic, comparisons, selects
and integer bit tricks, which LLVM turns into SIMD code (AVX2/AVX-512 on this machine):

* ``exp_f32``: Cephes-style range reduction ``x = n ln2 + r`` (``ln2`` split in two for an exact ``n ln2``), a
  degree-7 polynomial for ``e^r`` on ``|r| <= ln2 / 2``, and the scaling by ``2^n`` with one rounding so that
  results down into the subnormal range and up to overflow come out right: one ``vscalefps`` (``llvm.ldexp``)
  where the CPU has AVX-512, else ``2^n`` built from exponent bits in two halves; ``+-inf`` and NaN pass through.
* ``log_f32``: ``x = m 2^e`` from the bits (subnormals rescaled first), ``m`` in ``[sqrt(1/2), sqrt(2))``, Cephes'
  logf polynomial in ``m - 1``; 0 gives ``-inf``, negatives and NaN give NaN, ``inf`` gives ``inf``.
* ``tanh_f32``: an odd rational minimax approximation ``x P(x^2) / Q(x^2)`` (degrees 13 / 6, Eigen's float
  coefficients) on ``|x| <= 9`` (float32 tanh is +-1 beyond). An exp-based form
  (``1 - 2 / (1 + e^2x)``, 1.5 ulp) measured 2.5x slower; this one is 0.54 ns per element on one core.
* ``sigmoid_f32``: ``1 / (1 + e)`` for ``x >= 0`` and ``e / (1 + e)`` for ``x < 0`` with ``e = exp(-|x|)``, so it
  neither overflows nor loses relative accuracy for very negative ``x``.
* ``tanh_quotient_f32`` / ``sigmoid_quotient_f32``: the same two as (numerator, denominator) pairs, and
  ``quotient_product`` multiplies two such pairs with one division: a fused ``tanh(u) * sigmoid(x)`` then divides
  once per element instead of twice (``fused.py`` rewrites such products; 6.1 -> 5.2 ms on one core for 4M).

Measured maximum errors against float64 references over dense ranges (tests/passes/test_fusion.py checks them):
exp 1.25 ulp, log 0.82 ulp, tanh 4.7 ulp (2.8e-7 relative), sigmoid 2.5 ulp — all below 1e-6 relative
(numpy's own float32 tanh is 1.4 ulp).

float64 uses libm (``math.exp`` etc.: within an ulp, so fused float64 programs agree with numpy's to ~1e-16, but
scalar calls: float64 is not the fast path here).

The generic entry points ``fexp``, ``flog``, ``ftanh``, ``fsigmoid``, ``fsqrt``, ``fmaximum``, ``fminimum`` pick
the float32 or float64 implementation from the argument's numba type, so a generated kernel just writes
``ftanh(x)``. ``evaluate(name, array)`` runs one of them over an array (for tests and benchmarks).

Polynomials are evaluated with ``llvm.fmuladd`` (fused multiply-add where the CPU has it): the kernels are compiled
without fast-math flags — ``nnan``/``ninf`` would let LLVM drop the NaN/inf handling, and contraction would change
the rounding of the user's own ``a * b + c`` against the unfused program — so FMA is asked for explicitly where
rounding is ours to choose.
"""
import math

import numpy as np
from llvmlite import binding as ll, ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

__all__ = ["exp_f32", "log_f32", "tanh_f32", "sigmoid_f32", "tanh_quotient_f32", "sigmoid_quotient_f32",
           "quotient_product", "exp_f64", "log_f64", "tanh_f64", "sigmoid_f64",
           "fexp", "flog", "ftanh", "fsigmoid", "fsqrt", "fmaximum", "fminimum", "fmuladd", "prefer_wide_vectors",
           "evaluate", "FUNCTIONS"]


# ---------------------------------------------------------------- LLVM intrinsics numba does not expose
def _llvm_float(ty):
    return ir.FloatType() if ty.bitwidth == 32 else ir.DoubleType()


@intrinsic
def fmuladd(typingctx, a, b, c):
    """``a * b + c``, fused into one FMA instruction when the CPU has one (``llvm.fmuladd``)."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, sig, args):
        lty = _llvm_float(sig.return_type)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(lty, [lty] * 3),
                                            f"llvm.fmuladd.f{sig.return_type.bitwidth}")
        return builder.call(fn, args)
    return a(a, b, c), codegen


@intrinsic
def _f32_from_bits(typingctx, i):
    """The float32 whose bit pattern is the low 32 bits of the integer ``i``."""
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        v = args[0]
        if i.bitwidth > 32:
            v = builder.trunc(v, ir.IntType(32))
        elif i.bitwidth < 32:
            v = builder.sext(v, ir.IntType(32))
        return builder.bitcast(v, ir.FloatType())
    return types.float32(i), codegen


@intrinsic
def _f32_bits(typingctx, x):
    """The bit pattern of the float32 ``x`` as an int32."""
    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return types.int32(types.float32), codegen


# AVX-512F's vscalefps computes x * 2^n with one rounding, subnormal results included; LLVM lowers (and vectorises)
# llvm.ldexp to it. Without AVX-512 it would become a scalar libm call per element, so there 2^n is built from
# exponent bits instead (_scale_bits).
HAS_AVX512F = "+avx512f" in ll.get_host_cpu_features().flatten().split(",")


@intrinsic
def _ldexp_f32(typingctx, x, n):
    """``x * 2^n`` for float32 ``x`` and int32 ``n`` (``llvm.ldexp``)."""
    if x != types.float32 or n != types.int32:
        return None

    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.FloatType(), [ir.FloatType(), ir.IntType(32)]), "llvm.ldexp.f32.i32")
        return builder.call(fn, args)
    return types.float32(types.float32, types.int32), codegen


@intrinsic
def prefer_wide_vectors(typingctx):
    """Called first in a generated kernel: marks the function ``"prefer-vector-width"="512"`` so that LLVM
    vectorises its loop with 512-bit registers where the CPU has AVX-512 (LLVM's default for Skylake-X and later is
    256-bit). Measured 14% faster on the fused tanh/sigmoid loop here; without AVX-512 the attribute changes
    nothing. (llvmlite only validates the attribute names it knows, so the string attribute is added directly.)"""
    def codegen(context, builder, sig, args):
        set.add(builder.function.attributes, '"prefer-vector-width"="512"')
        return context.get_dummy_value()
    return types.none(), codegen


_f32 = np.float32
_i32 = np.int32


# ---------------------------------------------------------------- float32
_EXP_LO, _EXP_HI = _f32(-104.0), _f32(89.0)          # exp < 2^-150 rounds to 0; exp(89) overflows
_LOG2E = _f32(1.44269504088896341)
_MAGIC = _f32(12582912.0)                              # 1.5 * 2^23: adding it rounds to an integer
_MAGIC_BITS = _i32(0x4B400000)
_LN2_HI, _LN2_LO = _f32(0.693359375), _f32(-2.12194440e-4)   # ln2 = HI + LO, HI with 9 significant bits


@njit(error_model="numpy")
def _exp_clamped(xc):
    """e^x for float32 ``xc`` in [-104, 89] (or NaN): range reduction, polynomial, scaling."""
    t = fmuladd(xc, _LOG2E, _MAGIC)          # n = round(x / ln2) sits in t's low mantissa bits
    z = t - _MAGIC
    n = _f32_bits(t) - _MAGIC_BITS
    r = fmuladd(z, -_LN2_HI, xc)             # exact: z * LN2_HI has at most 17 significant bits
    r = fmuladd(z, -_LN2_LO, r)
    # e^r on |r| <= ln2/2: Cephes expf coefficients (theoretical peak relative error 4.2e-9)
    p = fmuladd(_f32(1.9875691500e-4), r, _f32(1.3981999507e-3))
    p = fmuladd(p, r, _f32(8.3334519073e-3))
    p = fmuladd(p, r, _f32(4.1665795894e-2))
    p = fmuladd(p, r, _f32(1.6666665459e-1))
    p = fmuladd(p, r, _f32(5.0000001201e-1))
    p = fmuladd(p, r * r, r + _f32(1.0))
    return _scale(p, n)


@njit(error_model="numpy")
def _scale_bits(p, n):
    """p * 2^n for n in [-150, 128]: 2^(n//2) * 2^(n - n//2), both halves normal numbers, one rounding."""
    h = n >> 1
    return p * _f32_from_bits((h + 127) << 23) * _f32_from_bits((n - h + 127) << 23)


@njit(error_model="numpy")
def _scale_avx512(p, n):
    return _ldexp_f32(p, np.int32(n))


_scale = _scale_avx512 if HAS_AVX512F else _scale_bits


@njit(error_model="numpy")
def exp_f32(x):
    """e^x for float32 (max error 1.25 ulp; subnormal results, overflow to inf, inf and NaN handled)."""
    # clamp to where the result is 0 or inf anyway; the selects keep NaN (comparisons with NaN are false)
    xc = _EXP_LO if x < _EXP_LO else x
    return _exp_clamped(_EXP_HI if xc > _EXP_HI else xc)


_SQRT_HALF = _f32(0.707106781186547524)
_TINY = _f32(1.17549435e-38)                           # smallest normal float32
_TWO23 = _f32(8388608.0)
_INF32 = _f32(np.inf)


@njit(error_model="numpy")
def log_f32(x):
    """Natural log for float32 (max error 1 ulp; subnormals, 0 -> -inf, x < 0 -> NaN, inf, NaN handled)."""
    sub = x < _TINY
    xs = x * _TWO23 if sub else x                      # subnormals: scale into the normal range first
    bits = _f32_bits(xs)
    e = ((bits >> 23) & 0xFF) - 126 - (23 if sub else 0)
    m = _f32_from_bits((bits & 0x007FFFFF) | 0x3F000000)   # mantissa in [0.5, 1)
    lo = m < _SQRT_HALF
    e = e - 1 if lo else e
    f = (m + m if lo else m) - _f32(1.0)               # exact (Sterbenz); m in [sqrt(1/2), sqrt(2)) - 1
    ef = _f32(e)
    z = f * f
    p = fmuladd(_f32(7.0376836292e-2), f, _f32(-1.1514610310e-1))
    p = fmuladd(p, f, _f32(1.1676998740e-1))
    p = fmuladd(p, f, _f32(-1.2420140846e-1))
    p = fmuladd(p, f, _f32(1.4249322787e-1))
    p = fmuladd(p, f, _f32(-1.6668057665e-1))
    p = fmuladd(p, f, _f32(2.0000714765e-1))
    p = fmuladd(p, f, _f32(-2.4999993993e-1))
    p = fmuladd(p, f, _f32(3.3333331174e-1))
    y = p * f * z
    y = fmuladd(ef, _LN2_LO, y)
    y = fmuladd(z, _f32(-0.5), y)
    y = f + y
    y = fmuladd(ef, _LN2_HI, y)
    ok = (x > _f32(0.0)) & (x < _INF32)
    special = -_INF32 if x == _f32(0.0) else (x if x == _INF32 else _f32(np.nan))
    return y if ok else special


_TANH_CLAMP = _f32(9.0)            # float32 tanh is +-1 from 9.01 on; the rational still tracks tanh up to here
# Below this |x| correctly rounded float32 tanh(x) is x itself (so is numpy's, up to 2.99e-4). The
# rational's P(0)/Q(0) is one ulp under 1, so without this tanh(x) != x there, and comparisons such as
# `tanh(x) > x` flipped between fused GRAPH_MODE kernels and PyNative (found by tests/fuzz).
_TANH_TINY = _f32(2.9e-4)
_ONE = _f32(1.0)


@njit(error_model="numpy")
def _tanh_rational(x):
    """(xc P(xc^2), Q(xc^2)) with xc = x clamped to [-9, 9]: tanh(x) = their quotient (4.7 ulp)."""
    xc = -_TANH_CLAMP if x < -_TANH_CLAMP else x
    xc = _TANH_CLAMP if xc > _TANH_CLAMP else xc
    x2 = xc * xc
    p = fmuladd(x2, _f32(-2.76076847742355e-16), _f32(2.00018790482477e-13))
    p = fmuladd(p, x2, _f32(-8.60467152213735e-11))
    p = fmuladd(p, x2, _f32(5.12229709037114e-08))
    p = fmuladd(p, x2, _f32(1.48572235717979e-05))
    p = fmuladd(p, x2, _f32(6.37261928875436e-04))
    p = fmuladd(p, x2, _f32(4.89352455891786e-03))
    q = fmuladd(x2, _f32(1.19825839466702e-06), _f32(1.18534705686654e-04))
    q = fmuladd(q, x2, _f32(2.26843463243900e-03))
    q = fmuladd(q, x2, _f32(4.89352518554385e-03))
    return xc * p, q


@njit(error_model="numpy")
def tanh_f32(x):
    """tanh for float32: odd rational minimax approximation (max error 4.7 ulp, 2.8e-7 relative), exactly +-1 for
    large |x| as numpy gives; inf, NaN, -0 and subnormals handled."""
    n, q = _tanh_rational(x)
    y = n / q                              # near 0: x * (P(0) / Q(0)), within an ulp of x (subnormals too)
    y = x if abs(x) < _TANH_TINY else y    # ... and exactly x where tanh(x) rounds to x
    y = _ONE if y > _ONE else y            # float32 rounding may overshoot 1 by an ulp near the clamp
    return -_ONE if y < -_ONE else y


@njit(error_model="numpy")
def tanh_quotient_f32(x):
    """tanh(x) as (numerator, denominator), for a kernel that multiplies it by another quotient and divides once
    (``fused.py``'s quotient merge): exactly (x, 1) where tanh(x) rounds to x and (+-1, 1) from |x| = 9 on, so a
    saturated tanh times a sigmoid is that sigmoid's own quotient, bit for bit; NaN gives NaN."""
    n, q = _tanh_rational(x)
    tiny = abs(x) < _TANH_TINY
    sat = abs(x) >= _TANH_CLAMP
    n = x if tiny else n
    n = (_ONE if x > _f32(0.0) else -_ONE) if sat else n
    return n, (_ONE if tiny | sat else q)


@njit(error_model="numpy")
def _exp_neg_f32(x):
    """e^x for x <= 0 or NaN (sigmoid's half of exp_f32: no overflow clamp)."""
    return _exp_clamped(_EXP_LO if x < _EXP_LO else x)


@njit(error_model="numpy")
def sigmoid_quotient_f32(x):
    """1 / (1 + e^-x) as (numerator, denominator): (1, 1 + e) for x >= 0 and (e, 1 + e) below, e = exp(-|x|), so it
    neither overflows nor loses relative accuracy for very negative x; NaN gives NaN."""
    e = _exp_neg_f32(-abs(x))
    return (_f32(1.0) if x >= _f32(0.0) else e), _f32(1.0) + e


@njit(error_model="numpy")
def sigmoid_f32(x):
    """1 / (1 + e^-x) for float32 (max error 2.5 ulp, relative accuracy kept for very negative x, subnormal results
    included); inf, NaN handled."""
    n, d = sigmoid_quotient_f32(x)
    return n / d


@njit(error_model="numpy")
def quotient_product(a, b):
    """(an / ad) * (bn / bd) with one division: (an bn) / (ad bd). Both denominators lie in [2^-8, 2] here (tanh's
    Q(x^2) >= 4.9e-3, sigmoid's 1 + e), so the products neither overflow nor lose range."""
    return (a[0] * b[0]) / (a[1] * b[1])


# ---------------------------------------------------------------- float64: libm
@njit(error_model="numpy")
def exp_f64(x):
    return math.exp(x)


@njit(error_model="numpy")
def log_f64(x):
    if x > 0.0:
        return math.log(x)
    return -np.inf if x == 0.0 else np.nan     # negatives and NaN give NaN


@njit(error_model="numpy")
def tanh_f64(x):
    return math.tanh(x)


@njit(error_model="numpy")
def sigmoid_f64(x):
    e = math.exp(-abs(x))
    return (1.0 if x >= 0.0 else e) / (1.0 + e)


# ---------------------------------------------------------------- generic entry points (dispatch on numba type)
def _generic(name, f32_impl, f64_impl):
    """A Python function (numpy semantics, for use outside numba) overloaded inside numba by argument type."""
    ref = {"exp": np.exp, "log": np.log, "tanh": np.tanh,
           "sigmoid": lambda x: 1 / (1 + np.exp(-x))}[name]

    def stub(x):
        return ref(x)
    stub.__name__ = stub.__qualname__ = f"f{name}"
    stub.__doc__ = f"{name} for numba kernels: the float32 approximation or float64 libm by argument type."

    @overload(stub)
    def _ov(x):
        if x == types.float32:
            return lambda x: f32_impl(x)
        if x == types.float64:
            return lambda x: f64_impl(x)
        return None
    return stub


fexp = _generic("exp", exp_f32, exp_f64)
flog = _generic("log", log_f32, log_f64)
ftanh = _generic("tanh", tanh_f32, tanh_f64)
fsigmoid = _generic("sigmoid", sigmoid_f32, sigmoid_f64)


def fsqrt(x):
    """sqrt (NaN for negative inputs, no exception) for numba kernels."""
    return np.sqrt(x)


@overload(fsqrt)
def _ov_fsqrt(x):
    if isinstance(x, types.Float):
        return lambda x: math.sqrt(x)   # llvm.sqrt: one vsqrtps, NaN below 0
    return None


def fmaximum(a, b):
    """numpy's maximum on scalars: the larger value, NaN if either is NaN."""
    return np.maximum(a, b)


@overload(fmaximum)
def _ov_fmaximum(a, b):
    if isinstance(a, (types.Number, types.Boolean)) and isinstance(b, (types.Number, types.Boolean)):
        return lambda a, b: a if (a > b) | (a != a) else b
    return None


def fminimum(a, b):
    """numpy's minimum on scalars: the smaller value, NaN if either is NaN."""
    return np.minimum(a, b)


@overload(fminimum)
def _ov_fminimum(a, b):
    if isinstance(a, (types.Number, types.Boolean)) and isinstance(b, (types.Number, types.Boolean)):
        return lambda a, b: a if (a < b) | (a != a) else b
    return None


# ---------------------------------------------------------------- running one function over an array
FUNCTIONS = {"exp": fexp, "log": flog, "tanh": ftanh, "sigmoid": fsigmoid, "sqrt": fsqrt}
_EVAL = {}


def evaluate(name, x):
    """``name`` (a key of FUNCTIONS) applied elementwise to the float32/float64 array ``x`` by the numba
    implementation a fused kernel uses; returns a new array of x's dtype and shape."""
    x = np.ascontiguousarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"evaluate: float32 or float64 input expected, got {x.dtype}")
    kernel = _EVAL.get(name)
    if kernel is None:
        fn = FUNCTIONS[name]

        @njit(parallel=True, error_model="numpy")
        def kernel(src, dst):
            for i in prange(src.shape[0]):
                dst[i] = fn(src[i])
        _EVAL[name] = kernel
    flat = x.reshape(-1)
    out = np.empty_like(flat)
    kernel(flat, out)
    return out.reshape(x.shape)
