"""Table VI decoders on this CPU: does wall time follow the MAC ratio of a lifted decoder to its 2D counterpart?

For the FastDepth and MiDaS stand-ins of ``densepred.spatial_lifting.decoders`` and their lifted versions, each on zero
features shaped like the paper's encoder pyramid (MobileNetV2 / ResNeXt-101) at a chosen input size, measured side
by side in one run:

* inference time per image (decoder forward, no grad);
* training step time per image (decoder forward + backward of the mean output + AdamW step);
* true MACs of the decoder (``densepred.complexity``, convention ``"torch"``).

Usage: python benchmarks/bench_sl_decoders.py [--size 128] [--batch 2] [--repeats 5] [--threads 1]
Prints medians; ratios are lifted / 2D.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from densepred.complexity import count_macs, count_parameters
from densepred.spatial_lifting.decoders import TABLE_VI, table_vi_decoder


def measure(row: str, size: int, batch: int, repeats: int) -> dict:
    torch.manual_seed(0)
    net, _ = table_vi_decoder(row)
    shape = (batch, 3, size, size)
    x = torch.zeros(shape)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        net(x).mean().backward()
        opt.step()

    net.train()
    step()  # warm-up
    train = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        train.append((time.perf_counter() - t0) / batch)
    net.eval()
    infer = []
    with torch.no_grad():
        net(x)
        for _ in range(repeats):
            t0 = time.perf_counter()
            net(x)
            infer.append((time.perf_counter() - t0) / batch)
    return {"row": row, "params": count_parameters(net), "macs": count_macs(net, (1, 3, size, size)),
            "train_s": statistics.median(train), "infer_s": statistics.median(infer)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128, help="square input side (a multiple of 32)")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.size % 32:
        ap.error(f"--size must be a multiple of 32 (the pyramids reach 1/32), got {args.size}")
    torch.set_num_threads(args.threads)
    res = {row: measure(row, args.size, args.batch, args.repeats) for row in TABLE_VI}
    print(f"input {args.size}x{args.size}, batch {args.batch}, {args.repeats} repeats, {args.threads} thread(s); "
          "per image, medians")
    print(f"{'decoder':<14}{'params':>10}{'MMACs':>10}{'train ms':>10}{'infer ms':>10}")
    for r in res.values():
        print(f"{r['row']:<14}{r['params']:>10}{r['macs'] / 1e6:>10.1f}{1e3 * r['train_s']:>10.2f}"
              f"{1e3 * r['infer_s']:>10.2f}")
    print("\nlifted / 2D:")
    for base in ("FastDepth", "MiDaS"):
        a, b = res[base], res[f"SL-{base}"]
        print(f"SL-{base}/{base}: params x{b['params'] / a['params']:.3f}, MACs x{b['macs'] / a['macs']:.3f}, "
              f"train time x{b['train_s'] / a['train_s']:.2f}, inference time x{b['infer_s'] / a['infer_s']:.2f}")


if __name__ == "__main__":
    main()
