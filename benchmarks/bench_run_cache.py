"""A cold run against a warm-cache run of the same cached training, side by side.

The cached training is a cpu-profile-sized protocol: a MONAI 2D UNet, channels (16, 32, 64, 128), trained
through the engine on 64 random 3x64x64 images (batches of 8, BCE, AdamW, cosine warm restarts, clip 0.5) and
stored by :func:`densepred.engine.cached_run` with its curves. "Cold" starts from an empty cache (key, training,
storing); "warm" asks again for the same run (key from the sources, checksum, ``torch.load``). The warm call
must not call the training function (checked: the script exits non-zero if it does) and should take at most
20% of the cold one. Each repeat uses a fresh temporary cache folder; medians are printed.

Usage: python benchmarks/bench_run_cache.py [--epochs 2] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=2, help="epochs of 8 steps in the cached training (default 2)")
    ap.add_argument("--repeats", type=int, default=3, help="cold/warm pairs (default 3)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch
    from monai.networks.nets import UNet
    from torch import nn
    from torch.utils.data import TensorDataset

    from densepred.engine import RunOutput, TrainConfig, cached_run, fit, make_loader, seed_everything

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.rand(64, 3, 64, 64, generator=g), (torch.rand(64, 1, 64, 64, generator=g) > 0.5).float())
    cfg = TrainConfig(epochs=args.epochs, lr=1e-3, scheduler="cosine-warm-restarts", clip=0.5, device="cpu")
    calls = []

    def step(model, batch):
        x, y = batch
        return {"loss": nn.functional.binary_cross_entropy_with_logits(model(x), y)}

    def train(config: TrainConfig, seed: int, checkpoint_dir: Path) -> RunOutput:
        calls.append(seed)
        seed_everything(seed)
        model = UNet(spatial_dims=2, in_channels=3, out_channels=1, channels=(16, 32, 64, 128), strides=(2, 2, 2),
                     num_res_units=1)
        result = fit(model, make_loader(data, 8, shuffle=True, seed=seed), step, config, seed=seed,
                     checkpoint_dir=checkpoint_dir)
        return RunOutput(model.state_dict(), {"final_loss": result.epochs[-1]["train_loss"]}, result.curves)

    modules = ["densepred.engine.training"]
    cold, warm = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            calls.clear()
            t0 = time.perf_counter()
            first = cached_run("bench.unet", cfg, 0, modules, train, root=tmp)
            cold.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            second = cached_run("bench.unet", cfg, 0, modules, train, root=tmp)
            warm.append(time.perf_counter() - t0)
            if calls != [0] or first.hit or not second.hit:
                print(f"FAIL: training calls {calls}, first hit {first.hit}, second hit {second.hit}")
                return 1
            if not all(torch.equal(first.state[k], second.state[k]) for k in first.state):
                print("FAIL: the warm state differs from the trained one")
                return 1
    c, w = statistics.median(cold), statistics.median(warm)
    print(f"cached training: MONAI UNet (16,32,64,128), {args.epochs} epochs x 8 steps of 8x3x64x64, "
          f"{args.repeats} cold/warm pairs, {args.threads} thread(s)")
    print(f"{'cold (train + store) s':>24s} {'warm (load) s':>14s} {'warm/cold':>10s} {'trained on warm':>16s}")
    print(f"{c:24.3f} {w:14.3f} {w / c:10.4f} {'no':>16s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
