"""Spatial Lifting on this CPU: does wall time follow the MAC ratio? And what does Q cost?

For each Table II configuration that runs at the chosen size, SL-UNet and UNet are measured side by side in
one run, each case in a fresh subprocess (so peak memory is its own):

* training step time per image (forward + backward + AdamW step, structure loss; dense slice supervision
  for SL-UNet), inference time per image (no grad; SL-UNet including the aggregation of the selected slices);
* peak resident memory of the subprocess above its baseline after imports (``resource.getrusage``
  ``ru_maxrss``, which sees every CPU allocation torch makes);
* MACs under both conventions of ``densepred.complexity``;
* the cost of the prediction-quality score Q (Eq. 11) as a fraction of SL-UNet's forward pass (target < 2%).

Usage: python benchmarks/bench_spatial_lifting.py [--size 64] [--batch 4] [--repeats 5] [--threads 1]
Prints medians; ratios are SL-UNet / UNet.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import time


def _case(name: str, size: int, batch: int, repeats: int, threads: int, queue) -> None:
    import torch

    from densepred.spatial_lifting.losses import structure_loss
    from densepred.models import build_model
    from densepred.spatial_lifting.slice_selection import aggregate_slices, dense_slice_loss, prediction_quality

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model = build_model(name)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 3, size, size)
    y = (torch.rand(batch, 1, size, size) > 0.5).float()
    lifted = name.startswith("sl-")
    selected = torch.arange(5)

    def train_step():
        opt.zero_grad()
        out = model(x)
        if lifted:
            loss = dense_slice_loss(lambda p, t: structure_loss(p, t, reduction="none"), out, y)[0]
        else:
            loss = structure_loss(out, y)
        loss.backward()
        opt.step()

    train, infer, quality = [], [], []
    model.train()
    train_step()  # warm-up
    for _ in range(repeats):
        t0 = time.perf_counter()
        train_step()
        train.append((time.perf_counter() - t0) / batch)
    model.eval()
    with torch.no_grad():
        model(x)
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = model(x)
            if lifted:
                aggregate_slices(out, selected)
            infer.append((time.perf_counter() - t0) / batch)
            if lifted:
                t0 = time.perf_counter()
                prediction_quality(out, selected)
                quality.append((time.perf_counter() - t0) / batch)
    peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024  # ru_maxrss is in KiB on Linux
    queue.put({"train_s": statistics.median(train), "infer_s": statistics.median(infer),
               "quality_s": statistics.median(quality) if quality else None, "peak_mb": peak_mb})


def measure(name: str, size: int, batch: int, repeats: int, threads: int) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_case, args=(name, size, batch, repeats, threads, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64, help="square input side (8L configurations need >= 256)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    from densepred.complexity import model_complexity

    levels = (5, 8) if args.size >= 256 else (5,)
    rows = []
    for L in levels:
        for R in (1, 2):
            cfg = f"{L}L-{R}Res"
            unet = measure(f"unet-{cfg}", args.size, args.batch, args.repeats, args.threads)
            sl = measure(f"sl-unet-{cfg}", args.size, args.batch, args.repeats, args.threads)
            cu = model_complexity(f"unet-{cfg}", (1, 3, args.size, args.size))
            cs = model_complexity(f"sl-unet-{cfg}", (1, 3, args.size, args.size))
            rows.append({
                "config": cfg,
                "MACs ratio (true)": cs["macs_torch"] / cu["macs_torch"],
                "MACs ratio (paper conv.)": cs["macs_paper"] / cu["macs_paper"],
                "train time ratio": sl["train_s"] / unet["train_s"],
                "infer time ratio": sl["infer_s"] / unet["infer_s"],
                "peak memory ratio": sl["peak_mb"] / max(unet["peak_mb"], 1e-9),
                "UNet train ms/img": 1e3 * unet["train_s"], "SL train ms/img": 1e3 * sl["train_s"],
                "UNet infer ms/img": 1e3 * unet["infer_s"], "SL infer ms/img": 1e3 * sl["infer_s"],
                "UNet peak MB": unet["peak_mb"], "SL peak MB": sl["peak_mb"],
                "Q / SL forward": sl["quality_s"] / sl["infer_s"],
            })
    print(f"input {args.size}x{args.size}, batch {args.batch}, {args.threads} thread(s), median of {args.repeats}")
    for r in rows:
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}))
    worst_q = max(r["Q / SL forward"] for r in rows)
    follows = all((r["train time ratio"] < 1) == (r["MACs ratio (true)"] < 1) for r in rows)
    print(f"wall time follows the MAC ratio (both below 1 or both above): {follows}")
    print(f"prediction_quality cost, worst case: {100 * worst_q:.2f}% of the SL-UNet forward pass "
          f"(target < 2%: {'met' if worst_q < 0.02 else 'missed'})")


if __name__ == "__main__":
    main()
