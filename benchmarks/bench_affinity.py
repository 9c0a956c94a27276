"""Benchmark: cost of the affinity-regression (AR) term in a training step (issue 8, Performance).

Target: a training step with CE + 0.1 AR costs less than 5% more than the same step with CE alone, for the same
network and batch (MONAI UNet, 19 classes). The two kinds of step are interleaved (CE, CE+AR, CE, ...) and
summarised by medians so both see the same machine load; the AR loss alone (forward + backward from the logits)
is timed too. Wall-clock and process CPU-time ratios are both printed: on a shared machine the CPU time is less
disturbed by other people's processes.

    python benchmarks/bench_affinity.py [--height 128 --width 256] [--batch 4] [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from monai.networks.nets import UNet

from densepred.affinity_regression.losses import affinity_regression_loss, ce_plus_ar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--classes", type=int, default=19)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    net = UNet(spatial_dims=2, in_channels=3, out_channels=args.classes, channels=(32, 64, 128, 256, 512),
               strides=(2, 2, 2, 2), num_res_units=1)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, 3, args.height, args.width, generator=g)
    y = torch.randint(0, args.classes, (args.batch, args.height, args.width), generator=g)
    y[:, : args.height // 8] = 255  # some ignored pixels, as in real labels

    cpu_plain, cpu_ar = [], []

    def step(with_ar: bool) -> float:
        t, c = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        logits = net(x)
        loss = ce_plus_ar(logits, y, lam=0.1)[0] if with_ar else F.cross_entropy(logits, y, ignore_index=255)
        loss.backward()
        opt.step()
        (cpu_ar if with_ar else cpu_plain).append(time.process_time() - c)
        return time.perf_counter() - t

    def ar_alone() -> float:
        logits = torch.randn(args.batch, args.classes, args.height, args.width, generator=g).requires_grad_()
        t = time.perf_counter()
        affinity_regression_loss(logits, y).backward()
        return time.perf_counter() - t

    step(False), step(True), ar_alone()  # warm-up
    cpu_plain.clear(), cpu_ar.clear()
    plain, with_ar, alone = [], [], []
    for r in range(args.repeats):
        order = (False, True) if r % 2 == 0 else (True, False)  # alternate which goes first
        for flag in order:
            (with_ar if flag else plain).append(step(flag))
        alone.append(ar_alone())
    p, a, o = statistics.median(plain), statistics.median(with_ar), statistics.median(alone)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, UNet {args.classes} classes, "
          f"batch {args.batch} x {args.height}x{args.width}, repeats {args.repeats} (medians)")
    print(f"step CE           {1e3 * p:9.1f} ms")
    print(f"step CE + 0.1 AR  {1e3 * a:9.1f} ms")
    print(f"AR loss alone     {1e3 * o:9.2f} ms (forward + backward from the logits)")
    print(f"ratio CE+AR / CE  {a / p:9.4f}  overhead {100 * (a / p - 1):+.2f}% (target < 5%)")
    cp, ca = statistics.median(cpu_plain), statistics.median(cpu_ar)
    print(f"CPU-time ratio    {ca / cp:9.4f}  overhead {100 * (ca / cp - 1):+.2f}% (process CPU time, medians: "
          "less sensitive to other processes than wall time)")
    spread = (statistics.quantiles(plain, n=4)[2] - statistics.quantiles(plain, n=4)[0]) / p if len(plain) > 1 else 0
    print(f"step CE spread    {100 * spread:9.1f}% of the median (interquartile range; a ratio is as good as this)")
    print(f"AR alone / step   {100 * o / p:9.2f}%")
    print(f"{'PASS' if a / p < 1.05 else 'FAIL'}")


if __name__ == "__main__":
    main()
