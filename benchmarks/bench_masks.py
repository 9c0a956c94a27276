"""Benchmark: MaskSup mask generation vs the training step it feeds (issue 7, Performance).

Target: generating the masks of one batch is at least 10x faster than one training step (forward + backward +
optimizer) of the base network on the same batch. Timings are interleaved (mask batch, step, mask batch, ...)
and summarised by medians, so both sides see the same machine load.

    python benchmarks/bench_masks.py [--sizes 224 512] [--batch 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from monai.networks.nets import UNet

from densepred.masksup.masking import random_holes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 512])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    net = UNet(spatial_dims=2, in_channels=3, out_channels=1, channels=(32, 64, 128, 256, 512),
               strides=(2, 2, 2, 2), num_res_units=1)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}, "
          f"repeats {args.repeats} (medians)")
    print(f"{'size':>5} {'level':>5} {'masks/s':>9} {'mask batch ms':>14} {'UNet step ms':>13} {'step/masks':>11}")
    worst = float("inf")
    for size in args.sizes:
        x = torch.randn(args.batch, 3, size, size)
        y = (torch.rand(args.batch, 1, size, size) > 0.5).float()

        def step() -> float:
            t = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            F.binary_cross_entropy_with_logits(net(x), y).backward()
            opt.step()
            return time.perf_counter() - t

        step()  # warm-up
        for level in ("low", "high"):
            rng_seed = 0
            random_holes(size, size, level=level, generator=rng_seed, batch=args.batch)  # warm-up
            mask_t, step_t = [], []
            for r in range(args.repeats):
                t = time.perf_counter()
                random_holes(size, size, level=level, generator=r + 1, batch=args.batch)
                mask_t.append(time.perf_counter() - t)
                step_t.append(step())
            m, s = statistics.median(mask_t), statistics.median(step_t)
            worst = min(worst, s / m)
            print(f"{size:>5} {level:>5} {args.batch / m:>9.1f} {1e3 * m:>14.1f} {1e3 * s:>13.1f} {s / m:>10.1f}x")
    print(f"worst ratio {worst:.1f}x (target >= 10x): {'PASS' if worst >= 10 else 'FAIL'}")


if __name__ == "__main__":
    main()
