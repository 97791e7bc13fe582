"""Generated programs: run N random well-typed mindlab programs (tests/fuzz/generator.py) in PyNative and GRAPH_MODE
and compare values and gradients to 1e-5; every ``--parallel-every``-th seed also runs a parallel-shaped Cell under an
auto-parallel plan on the sim mesh (2 or 4 devices, the three search modes in turn) against one device, and function
programs also compare a Hessian-vector product (grad of grad).

    .venv/bin/python benchmarks/fuzz_programs.py               # 1,000 programs (+ 100 auto-parallel ones)
    .venv/bin/python benchmarks/fuzz_programs.py -n 200 --start 1000

Program ``i`` is ``generate(random.Random(i))``: a failing seed reproduces exactly. Each mismatch is printed with
the program's source and what differed; the summary (a markdown table) goes to docs/benchmarks.md by hand. The CI
slice (tests/fuzz/test_generated_programs.py) runs 200 hypothesis-drawn programs.
"""
import argparse
import collections
import datetime
import os
import platform
import random
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import mindlab as ms                                # noqa: E402
from tests.fuzz.generator import generate          # noqa: E402
from tests.fuzz.runner import check, OPTIMIZERS     # noqa: E402

SEARCH_MODES = ("sharding_propagation", "dynamic_programming", "ilp")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1000, help="number of programs (default 1000)")
    ap.add_argument("--start", type=int, default=0, help="first seed")
    ap.add_argument("--parallel-every", type=int, default=10, help="every k-th seed also runs an auto-parallel "
                                                                   "program (0: none)")
    ap.add_argument("--no-second-order", action="store_true", help="skip the Hessian-vector product checks")
    ap.add_argument("--device", default="CPU", choices=("CPU", "GPU"),
                    help="device_target of the runs; GPU also compares PyNative on the GPU with the CPU (on a CUDA "
                         "machine, or the GPU code paths under NUMBA_ENABLE_CUDASIM=1)")
    ap.add_argument("--native", action="store_true",
                    help="compile every native program at its first call (MINDLAB_NATIVE_AFTER=0; the CPU runs "
                         "otherwise use the executor for a program's first 100 calls, so these runs never reach "
                         "native code) and count a native program that fails to compile as a failure")
    ap.add_argument("--train", action="store_true",
                    help="Cells with Parameters also compare three TrainOneStepCell steps between the modes "
                         "(Momentum, SGD, Adam, AdamWeightDecay by seed)")
    ap.add_argument("--bad-input", action="store_true",
                    help="instead: programs with one mistake each (tests/fuzz/bad_input.py); each mode must raise a "
                         "clear error naming the op, the shape and the mistaken line")
    args = ap.parse_args()
    if args.bad_input:
        return bad_input(args)
    if args.native:
        os.environ["MINDLAB_NATIVE_AFTER"] = "0"
    from mindlab.runtime.native import NativeProgramWarning
    ms.set_context(device_target=args.device)
    reference = "CPU" if args.device != "CPU" else None
    warnings.simplefilter("ignore", RuntimeWarning)
    features = collections.Counter()
    failures = []
    n_par = n_second = n_train = 0
    t_single = t_par = 0.0
    with tempfile.TemporaryDirectory() as d:
        for i in range(args.start, args.start + args.n):
            prog = generate(random.Random(i))
            features.update(prog.features)
            t0 = time.perf_counter()
            second = not args.no_second_order and prog.kind == "function"
            n_second += second
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", NativeProgramWarning)
                warnings.simplefilter("ignore", RuntimeWarning)
                problem = check(prog, d, second_order=second, reference_device=reference,
                                train=OPTIMIZERS[i % len(OPTIMIZERS)] if args.train else None)
            n_train += args.train and prog.kind == "cell" and "parameter" in prog.features
            native_bad = [str(w.message) for w in caught if issubclass(w.category, NativeProgramWarning)]
            if native_bad and args.native and not problem:
                problem = "native program failed: " + native_bad[0]
            t_single += time.perf_counter() - t0
            if problem:
                failures.append((i, "modes", prog, problem))
                print(f"=== seed {i}: MISMATCH\n{prog.source}\n{problem}\n", flush=True)
            if args.parallel_every and i % args.parallel_every == 0:
                pprog = generate(random.Random(i), parallel=True)
                par = ((2, 4)[(i // args.parallel_every) % 2], SEARCH_MODES[(i // args.parallel_every) % 3])
                t0 = time.perf_counter()
                problem = check(pprog, d, parallel=par)
                t_par += time.perf_counter() - t0
                n_par += 1
                if problem:
                    failures.append((i, f"auto_parallel {par}", pprog, problem))
                    print(f"=== seed {i} (parallel {par}): MISMATCH\n{pprog.source}\n{problem}\n", flush=True)
            done = i - args.start + 1
            if done % 100 == 0:
                print(f"# {done}/{args.n} programs, {len(failures)} mismatches, {t_single + t_par:.0f} s",
                      flush=True)
    print()
    print(f"## Generated programs ({datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, device_target={args.device}"
          f"{' under the CUDA simulator' if args.device == 'GPU' and os.environ.get('NUMBA_ENABLE_CUDASIM') else ''})")
    print()
    print("| run | programs | mismatches | total time | per program |")
    print("|---|---:|---:|---:|---:|")
    single_bad = sum(1 for f in failures if f[1] == "modes")
    vs_cpu = (f"; and {args.device} vs CPU in PyNative" if reference else "") + \
        ("; every native program compiled at its first call" if args.native else "") + \
        (f"; 3 training steps for {n_train} Cells" if args.train else "")
    print(f"| PyNative vs GRAPH_MODE (values + grads; Hessian-vector products for {n_second}{vs_cpu}), seeds "
          f"{args.start}..{args.start + args.n - 1} | {args.n} | "
          f"{single_bad} | {t_single:.1f} s | {1000 * t_single / max(args.n, 1):.0f} ms |")
    if n_par:
        print(f"| auto_parallel (sim mesh, 2/4 devices) vs one device (loss + weight grads) | {n_par} | "
              f"{len(failures) - single_bad} | {t_par:.1f} s | {1000 * t_par / n_par:.0f} ms |")
    print()
    print("constructs (programs using each): " + ", ".join(f"{k} {v}" for k, v in sorted(features.items())))
    if failures:
        print("failing seeds: " + ", ".join(f"{i} ({what})" for i, what, _, _ in failures))
    return 1 if failures else 0


def bad_input(args):
    from tests.fuzz.bad_input import generate_bad, check_error
    ms.set_context(device_target=args.device)
    warnings.simplefilter("ignore", RuntimeWarning)
    kinds, failures = collections.Counter(), []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        for i in range(args.start, args.start + args.n):
            bad = generate_bad(random.Random(i))
            kinds[bad.kind] += 1
            problem = check_error(bad, d)
            if problem:
                failures.append(i)
                print(f"=== seed {i}: UNCLEAR ERROR\n{bad.program.source}\n{problem}\n", flush=True)
    total = time.perf_counter() - t0
    print(f"\n| programs with one mistake (PyNative, GRAPH_MODE, GRAPH_MODE value_and_grad; device_target="
          f"{args.device}), seeds {args.start}..{args.start + args.n - 1} | {args.n} | {len(failures)} | "
          f"{total:.1f} s | {1000 * total / max(args.n, 1):.0f} ms |")
    print("mistakes: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
