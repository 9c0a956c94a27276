"""Benchmark: generation rate of every synthetic dataset at its default size on one core (issue 3).

Target: synth-street at 256x512 renders at least 20 scenes/s on one CPU core. All datasets are timed in the same
run, in rounds (one batch of each dataset per round), and summarised by the median per-round rate, so every
dataset sees the same machine load. Two rates are printed: wall-clock items/s, and items per second of this
process's CPU time (what one uncontended core delivers; on a shared, loaded machine the wall rate is lower).
The ratio printed for synth-street is (rate) / (20 scenes/s), for both.

    python benchmarks/bench_synthetic.py [--n 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from densepred.data.synthetic import DEFAULT_SIZE, SYNTHETIC_NAMES, generate  # noqa: E402

TARGET = {"synth-street": 20.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="items per dataset per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)

    for name in SYNTHETIC_NAMES:  # warm-up: texture loading, imports
        generate(name, 0, seed=123)
    rates: dict[str, list[float]] = {n: [] for n in SYNTHETIC_NAMES}
    cpu_rates: dict[str, list[float]] = {n: [] for n in SYNTHETIC_NAMES}
    index = 0
    for _ in range(args.rounds):
        for name in SYNTHETIC_NAMES:
            t, c = time.perf_counter(), time.process_time()
            for i in range(args.n):
                generate(name, index + i, seed=0)
            rates[name].append(args.n / (time.perf_counter() - t))
            cpu_rates[name].append(args.n / (time.process_time() - c))
        index += args.n

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch threads {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
          f"{args.rounds} rounds x {args.n} items (median rate), load average {load:.2f} on {os.cpu_count()} cores")
    print(f"{'dataset':<15} {'size':>9} {'wall it/s':>10} {'cpu it/s':>9} {'cpu ms/it':>10} {'target':>7} "
          f"{'ratio wall':>11} {'ratio cpu':>10}")
    for name in SYNTHETIC_NAMES:
        r, rc = statistics.median(rates[name]), statistics.median(cpu_rates[name])
        H, W = DEFAULT_SIZE[name]
        tgt = TARGET.get(name)
        rw = f"{r / tgt:11.2f}" if tgt else f"{'-':>11}"
        rcpu = f"{rc / tgt:10.2f}" if tgt else f"{'-':>10}"
        print(f"{name:<15} {f'{H}x{W}':>9} {r:10.1f} {rc:9.1f} {1000 / rc:10.1f} {tgt or '-':>7} {rw} {rcpu}")
    for label, rr in (("wall", rates), ("cpu", cpu_rates)):
        r = statistics.median(rr["synth-street"])
        verdict = "meets" if r >= TARGET["synth-street"] else "MISSES"
        print(f"synth-street ({label}): {r:.1f} scenes/s = {r / TARGET['synth-street']:.2f}x the 20 scenes/s "
              f"target ({verdict} it)")


if __name__ == "__main__":
    main()
