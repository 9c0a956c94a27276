"""Soft-label down-sampling: ours (interpolation taps) against the one-hot + F.interpolate reference.

Run:  python benchmarks/bench_soft_labels.py            (about 2-4 minutes on 2 CPU cores, peak ~8 GB RAM)
      python benchmarks/bench_soft_labels.py --quick    (the 19-class map only)

Cases (issue 5): a 1024x2048 label map with 19 classes (Cityscapes-like) and a 2048x2048 map with 150 classes
(ADE20K-like), soft-bilinear (antialias off, as in the paper) to 1/2, 1/4 and 1/8. Three implementations:

* ``ours``        ``densepred.soft_labels.resample.downsample_labels`` (never builds the full-resolution one-hot);
* ``ref-onehot``  the straightforward reference: ``F.one_hot`` (int64, channels last) -> float -> ``F.interpolate``;
* ``ref-scatter`` a leaner reference: float32 one-hot written with ``scatter_`` -> ``F.interpolate``
                  (``densepred.soft_labels.resample.onehot_reference``; still C x H x W floats).

Every (case, implementation) runs in a fresh subprocess, so each one's memory is measured alone:

* time  = best of ``--repeat`` calls, or of about 1 s of calls (at most 50) when that is more, after one
          warm-up call on a tiny map; wall clock, ``--threads`` threads (default 1, the same for every one);
* peak  = peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) during the first full-size call
          minus the resident set size just before it (``/proc/self/statm``). This sees every torch CPU
          allocation (``tracemalloc`` does not). It includes the call's output. If the call never raises the
          process's earlier peak, the value printed is an upper bound and is marked ``<=``.

The max abs difference between ours and the reference is computed in a separate subprocess holding both outputs.

``--loader`` (issue 16; in-process, ``--threads`` threads) reports instead, on a 1024x2048 19-class map:

* the memory-bandwidth floor: one read of the label map (``labels.sum()`` over the int64 map the datasets
  give), against ours at 1/2, 1/4, 1/8 (how many label-map reads each down-sampling costs);
* the rate of one DataLoader worker producing training samples inside the paper's crop pipeline
  (``densepred.soft_labels.experiments.ScaleCrop``: random resize 0.5-2x the 1/4 crop, 256x512, labels
  down-sampled inside that resize, crop, flip) with NN labels and with soft-bilinear labels, per sample, the
  same seeded scales for both; the ratio soft / NN is printed against the target <= 1.5x. The image decode a
  real loader also pays is left out (common to both paths), so the ratio is an upper bound of the loader's.
Labels are deterministic (seeded): random class blocks of 16x16 pixels, thin one-pixel lines, and ~5% void (255).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

CASES = [(1024, 2048, 19), (2048, 2048, 150)]
SCALES = [0.5, 0.25, 0.125]
IMPLS = ["ours", "ref-onehot", "ref-scatter"]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def make_labels(h: int, w: int, c: int, seed: int = 0):
    """(1, H, W) int64: 16x16 class blocks, a few thin lines (poles), ~5% void. Built without large temporaries."""
    import torch

    g = torch.Generator().manual_seed(seed)
    small = torch.randint(0, c, (h // 16, w // 16), generator=g)
    void_blocks = torch.rand(h // 16, w // 16, generator=g) < 0.05
    small[void_blocks] = 255
    labels = small.repeat_interleave(16, 0).repeat_interleave(16, 1)
    cols = torch.randint(0, w, (w // 64,), generator=g)
    labels[:, cols] = torch.randint(0, c, (w // 64,), generator=g)
    return labels[None]


def _run(impl: str, labels, scale: float, c: int):
    import torch.nn.functional as F

    from densepred.soft_labels.resample import downsample_labels, onehot_reference

    if impl == "ours":
        return downsample_labels(labels, scale=scale, method="soft-bilinear", num_classes=c)
    if impl == "ref-scatter":
        return onehot_reference(labels, scale=scale, method="soft-bilinear", num_classes=c)
    if impl == "ref-onehot":
        ids = labels.masked_fill(labels == 255, c)  # void -> an extra class whose plane is dropped
        onehot = F.one_hot(ids, c + 1)[..., :c].permute(0, 3, 1, 2).float()
        return F.interpolate(onehot, scale_factor=scale, mode="bilinear", align_corners=False)
    raise ValueError(impl)


def worker(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    h, w, c = args.case
    labels = make_labels(h, w, c)
    if args.impl == "diff":
        a = _run("ours", labels, args.scale, c)
        b = _run("ref-scatter", labels, args.scale, c)
        rows = a.sum(1)
        print(json.dumps({"max_abs_diff": float((a - b).abs().max()), "shape": list(a.shape),
                          "row_sum_max_dev_nonvoid": float((rows[rows > 0.999] - 1).abs().max())}))
        return
    _run(args.impl, make_labels(64, 128, c), args.scale, c)  # warm-up: lazy initialisation, not measured
    rss0, peak0 = _rss_bytes(), _maxrss_bytes()
    t0 = time.perf_counter()
    out = _run(args.impl, labels, args.scale, c)
    first = time.perf_counter() - t0
    peak1 = _maxrss_bytes()
    del out
    times = [first]
    # Fast calls get more repeats (timeit's rule: about 1 s of timed calls, at most 50), slow ones --repeat.
    for _ in range(max(args.repeat - 1, min(50, int(1.0 / max(first, 1e-6))))):
        t0 = time.perf_counter()
        out = _run(args.impl, labels, args.scale, c)
        times.append(time.perf_counter() - t0)
        del out
    print(json.dumps({"time_s": min(times), "peak_bytes": peak1 - rss0, "upper_bound": peak1 <= peak0}))


def _spawn(impl: str, case, scale: float, args) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--impl", impl, "--case", *map(str, case), "--scale", str(scale),
           "--repeat", str(args.repeat), "--threads", str(args.threads)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{impl} {case} {scale} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _best(fn, n: int) -> float:
    """Best of ``n`` calls in process CPU time (the machine is shared: wall time counts other jobs)."""
    times = []
    for _ in range(n):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def loader_rates(args) -> None:
    """See the module docstring (``--loader``)."""
    import torch

    from densepred.soft_labels.experiments import ScaleCrop
    from densepred.soft_labels.resample import downsample_labels

    torch.set_num_threads(args.threads)
    h, w, c = 1024, 2048, 19
    labels = make_labels(h, w, c).reshape(h, w)
    print(f"torch {torch.__version__}, {args.threads} thread(s); load average {os.getloadavg()[0]:.2f} "
          f"(1 min) on {os.cpu_count()} CPUs")
    read = _best(lambda: labels.sum(), max(args.repeat, 10))
    print(f"times are process CPU time, best of >= {max(args.repeat, 10)}")
    print(f"one read of the {h}x{w} int64 label map: {read * 1e3:.2f} ms ({labels.numel() * 8 / read / 1e9:.1f} GB/s)")
    for scale in SCALES:
        t = _best(lambda: downsample_labels(labels[None], scale=scale, method="soft-bilinear", num_classes=c),
                  args.repeat)
        print(f"  soft-bilinear to 1/{round(1 / scale)}: {t * 1e3:8.1f} ms = {t / read:6.1f} label-map reads")
    g = torch.Generator().manual_seed(0)
    item = {"image": torch.rand(3, h, w, generator=g), "mask": labels}
    n = max(args.repeat, 12)
    per = {}
    for method in ("nearest", "soft-bilinear"):
        t = ScaleCrop((h // 4, w // 4), "bilinear", method, c)
        t(item, torch.Generator().manual_seed(123))  # warm-up
        start = time.process_time()
        for i in range(n):
            t(item, torch.Generator().manual_seed(i))
        per[method] = (time.process_time() - start) / n
        print(f"crop pipeline at 1/4 ({h // 4}x{w // 4} crops from {h}x{w}), {method:>13} labels: "
              f"{per[method] * 1e3:7.1f} ms CPU per sample = {1 / per[method]:5.1f} samples/s per worker")
    ratio = per["soft-bilinear"] / per["nearest"]
    print(f"soft / NN per training sample: {ratio:.2f}x (target <= 1.5x) -> {'MET' if ratio <= 1.5 else 'NOT MET'}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--impl", default="ours")
    p.add_argument("--case", type=int, nargs=3, default=[1024, 2048, 19], metavar=("H", "W", "C"))
    p.add_argument("--scale", type=float, default=0.25)
    p.add_argument("--repeat", type=int, default=3, help="timed calls per case (best is reported)")
    p.add_argument("--threads", type=int, default=1, help="torch threads for every implementation")
    p.add_argument("--quick", action="store_true", help="only the 1024x2048, 19-class map")
    p.add_argument("--loader", action="store_true", help="bandwidth floor and one loader worker's sample rate")
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    if args.loader:
        loader_rates(args)
        return

    import torch

    print(f"torch {torch.__version__}, {args.threads} thread(s), best of >= {args.repeat} calls; "
          "memory = peak RSS of a fresh process during the call minus RSS before it (includes the output)")
    cases = CASES[:1] if args.quick else CASES
    header = (f"{'map':>16} {'scale':>6} {'ours ms':>9} {'ours MB':>9} | {'reference':>11} {'ref ms':>9} "
              f"{'ref MB':>9} {'speed-up':>9} {'mem ratio':>9}")
    print(header)
    verdicts = []
    for case in cases:
        for scale in SCALES:
            res = {impl: _spawn(impl, case, scale, args) for impl in IMPLS}
            diff = _spawn("diff", case, scale, args)
            ours = res["ours"]
            for ref in IMPLS[1:]:
                r = res[ref]
                speed = r["time_s"] / ours["time_s"]
                mem = r["peak_bytes"] / max(ours["peak_bytes"], 1)
                mark = "<=" if ours["upper_bound"] else ""
                print(f"{'%dx%d C=%d' % case:>16} {'1/%d' % round(1 / scale):>6} {ours['time_s'] * 1e3:9.1f} "
                      f"{mark}{ours['peak_bytes'] / 2**20:7.1f} | {ref:>11} {r['time_s'] * 1e3:9.1f} "
                      f"{r['peak_bytes'] / 2**20:9.1f} {speed:8.1f}x {mem:8.1f}x")
                if scale == 0.25:
                    verdicts.append((case, ref, speed, mem, diff["max_abs_diff"]))
            print(f"{'':>16} {'':>6} max |ours - reference| = {diff['max_abs_diff']:.3g}; "
                  f"max |row sum - 1| away from void = {diff['row_sum_max_dev_nonvoid']:.3g}")
    print("\nTarget at 1/4: >= 10x faster, >= 10x less peak memory, max abs diff < 1e-6")
    for case, ref, speed, mem, d in verdicts:
        ok = speed >= 10 and mem >= 10 and d < 1e-6
        print(f"  {'%dx%d C=%d' % case:>16} vs {ref:>11}: speed-up {speed:.1f}x, memory {mem:.1f}x, "
              f"diff {d:.2g} -> {'MET' if ok else 'NOT MET'}")


if __name__ == "__main__":
    main()
