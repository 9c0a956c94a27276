"""The engine's overhead per training step against a plain PyTorch loop (and Lightning's Trainer), side by side.

The step is the spatial-lifting cpu-profile kind: a MONAI 2D UNet, channels (16, 32, 64, 128), one residual
unit per level, on 8x3x64x64 batches with BCE, AdamW (1e-3, weight decay 1e-2), cosine warm restarts, gradient
clipping at 0.5 (Table V). All three variants train the same initial weights on the same batches from the same
DataLoader for the same number of steps; each run's wall time includes everything its caller waits for
(engine/Trainer set-up, the final state copy: a fixed cost per run, about 40 ms of which is Lightning scanning
the installed packages' entry points for external callbacks when a ``Fabric`` is made). Runs are interleaved (plain, engine, trainer, plain, ...) so
that a change in machine load hits all of them; the median per-step time of each is printed with the ratio
to the plain loop (target for the engine: at most 1.05).

On a shared machine the load moves step times by more than 5%, so the script also measures the engine's own
cost per step on a model that computes almost nothing (a 1x1 convolution), where that cost dominates, and
adds it to the representative plain step: a second, load-robust estimate of the same ratio.

Usage: python benchmarks/bench_engine.py [--steps 160] [--repeats 5] [--threads 1] [--size 64] [--no-trainer]
"""

from __future__ import annotations

import argparse
import copy
import logging
import statistics
import time
import warnings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=160,
                    help="optimiser steps per run (default 160, about one spatial-lifting cpu-profile run)")
    ap.add_argument("--repeats", type=int, default=5, help="runs of each variant (default 5)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--size", type=int, default=64, help="image side (default 64)")
    ap.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    ap.add_argument("--no-trainer", action="store_true", help="skip the Lightning Trainer variant")
    args = ap.parse_args()

    import torch
    from monai.networks.nets import UNet
    from torch import nn
    from torch.utils.data import TensorDataset

    from densepred.engine import TrainConfig, fit, make_loader

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)

    def step(model, batch):
        x, y = batch
        return {"loss": nn.functional.binary_cross_entropy_with_logits(model(x), y)}

    def measure(init: nn.Module, size: int, epochs: int, repeats: int, with_trainer: bool) -> dict[str, list]:
        """Seconds per step of each variant, ``repeats`` interleaved runs of ``epochs`` x 8 steps."""
        n = args.batch * 8  # 8 batches per epoch
        g = torch.Generator().manual_seed(0)
        data = TensorDataset(torch.rand(n, 3, size, size, generator=g),
                             (torch.rand(n, 1, size, size, generator=g) > 0.5).float())
        steps = epochs * 8
        cfg = TrainConfig(epochs=epochs, optimizer="adamw", lr=1e-3, weight_decay=1e-2,
                          scheduler="cosine-warm-restarts", restart_epochs=10, clip=0.5, device="cpu")

        def plain() -> float:
            model = copy.deepcopy(init)
            loader = make_loader(data, args.batch, shuffle=True, seed=0)
            t0 = time.perf_counter()
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
            sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=10 * len(loader))
            losses = []
            model.train()
            for _ in range(epochs):
                for batch in loader:
                    opt.zero_grad(set_to_none=True)
                    out = step(model, batch)
                    out["loss"].backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
                    opt.step()
                    sched.step()
                    losses.append(out["loss"].detach())
            [v.item() for v in losses]
            return time.perf_counter() - t0

        def engine() -> float:
            model = copy.deepcopy(init)
            loader = make_loader(data, args.batch, shuffle=True, seed=0)
            t0 = time.perf_counter()
            fit(model, loader, step, cfg, seed=0)
            return time.perf_counter() - t0

        def trainer() -> float:
            import lightning as L

            class Module(L.LightningModule):
                def __init__(self, net):
                    super().__init__()
                    self.net = net

                def training_step(self, batch, _):
                    return step(self.net, batch)["loss"]

                def configure_optimizers(self):
                    opt = torch.optim.AdamW(self.parameters(), lr=1e-3, weight_decay=1e-2)
                    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=80)
                    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

            module = Module(copy.deepcopy(init))
            loader = make_loader(data, args.batch, shuffle=True, seed=0)
            t0 = time.perf_counter()
            L.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, gradient_clip_val=0.5, logger=False,
                      enable_checkpointing=False, enable_model_summary=False, enable_progress_bar=False,
                      num_sanity_val_steps=0).fit(module, loader)
            return time.perf_counter() - t0

        variants = {"plain PyTorch loop": plain, "densepred engine (Fabric)": engine}
        if with_trainer:
            variants["Lightning Trainer (no logger/ckpt/bar)"] = trainer
        for f in variants.values():  # warm-up: first-call costs (allocator, lazy imports) out of the timings
            f()
        times: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(repeats):
            for name, f in variants.items():
                times[name].append(f() / steps)
        return times

    def table(times: dict[str, list], unit: str, scale: float) -> None:
        base = statistics.median(times["plain PyTorch loop"])
        base_min = min(times["plain PyTorch loop"])
        print(f"{'variant':40s} {'median ' + unit:>16s} {'min ' + unit:>12s} {'ratio (median)':>15s} "
              f"{'ratio (min)':>12s} {'median - plain':>15s}")
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"{name:40s} {scale * med:16.2f} {scale * min(ts):12.2f} {med / base:15.3f} "
                  f"{min(ts) / base_min:12.3f} {scale * (med - base):15.2f}")

    torch.manual_seed(0)
    unet = UNet(spatial_dims=2, in_channels=3, out_channels=1, channels=(16, 32, 64, 128), strides=(2, 2, 2),
                num_res_units=1)
    rep = measure(unet, args.size, max(1, args.steps // 8), args.repeats, not args.no_trainer)
    print(f"\n[1] representative step: MONAI UNet (16,32,64,128) x1 res unit, batch {args.batch}x3x{args.size}x"
          f"{args.size}, BCE, AdamW, SGDR, clip 0.5; {max(1, args.steps // 8) * 8} steps per run, "
          f"{args.repeats} runs each, {args.threads} thread(s)")
    table(rep, "ms/step", 1e3)
    # The same loop on a 1x1 convolution over 8x3x8x8: the step costs almost nothing, so what remains is the
    # engine's own cost per step (set-up amortised over the run), less sensitive to the machine's load.
    tiny = measure(nn.Conv2d(3, 1, 1), 8, 50, args.repeats, False)
    print(f"\n[2] engine cost alone: 1x1 conv on {args.batch}x3x8x8, 400 steps per run, {args.repeats} runs each")
    table(tiny, "us/step", 1e6)
    extra = statistics.median(tiny["densepred engine (Fabric)"]) - statistics.median(tiny["plain PyTorch loop"])
    base = statistics.median(rep["plain PyTorch loop"])
    print(f"\n[2] applied to [1]: (plain step + engine cost) / plain step = {(base + extra) / base:.4f}")


if __name__ == "__main__":
    main()
