"""Random streak-and-hole masks for MaskSup's context branch (Eq. 1 of masksup).

The paper masks images "using masks of random streaks and holes of arbitrary shapes" following Liu et al. (2018),
and the official code reads PNGs from NVIDIA's irregular-mask set: "high" masking used the set's largest-hole
masks (about 50-60% of the pixels removed), "low" its smallest (about 1-10%). That set cannot be downloaded here,
so :func:`random_holes` draws masks of the same kind procedurally:

* **streaks**: thick random-walk polylines whose width varies along the stroke (each segment is a capsule
  whose width goes linearly between the widths of its two end vertices, so joints are round);
* **holes**: blobs of arbitrary shape (a radius that varies smoothly with the angle around a centre).

Shapes are rasterised (vectorised numpy inside each shape's bounding box) until the mask's
coverage reaches a target drawn uniformly inside the requested range; a shape that would overshoot the range is
trimmed to the pixels nearest its seed point, so the coverage always lies inside the range (a guarantee the
fixed mask set only gives approximately).

Convention: masks are boolean with ``True`` where pixels are **removed**; :func:`apply_mask` sets those pixels to
0, after normalisation, as the official code does (Eq. 1 writes the same thing with a keep-mask,
``I_masked = I * M_holes``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: Coverage ranges (fraction of pixels removed) of the two masking levels of Table 3 of masksup.
LEVELS: dict[str, tuple[float, float]] = {"low": (0.01, 0.10), "high": (0.50, 0.60)}

__all__ = ["LEVELS", "IRREGULAR_MASKS_DIR", "apply_mask", "coverage", "irregular_masks", "mask_statistics",
           "random_holes"]

#: Where the NVIDIA irregular-mask set (Liu et al., 2018) is looked for under ``data_root``: its PNGs, any depth.
IRREGULAR_MASKS_DIR = "irregular-masks"


def _numpy_generator(generator) -> np.random.Generator:
    """Turn a seed, a ``numpy.random.Generator`` or a ``torch.Generator`` into a numpy Generator."""
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, torch.Generator):
        # One draw from the torch stream seeds the numpy stream: deterministic, and advances the torch generator.
        seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
        return np.random.default_rng(seed)
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    raise TypeError(
        f"generator must be an int seed, a numpy.random.Generator or a torch.Generator, got "
        f"{type(generator).__name__}; pass e.g. generator=0 or generator=torch.Generator().manual_seed(0)"
    )


def _resolve_ratio(ratio, level) -> tuple[float, float]:
    if ratio is not None and level is not None:
        raise ValueError("pass either ratio=(lo, hi) or level='low'|'high', not both")
    if ratio is None:
        level = "high" if level is None else level
        if level not in LEVELS:
            raise ValueError(f"level must be one of {sorted(LEVELS)}, got {level!r}")
        return LEVELS[level]
    try:
        lo, hi = (float(r) for r in ratio)
    except (TypeError, ValueError):
        raise ValueError(f"ratio must be a pair (lo, hi) of fractions, got {ratio!r}") from None
    if not (0.0 <= lo <= hi <= 1.0):
        raise ValueError(f"ratio must satisfy 0 <= lo <= hi <= 1 (fractions of pixels removed), got {ratio!r}")
    return lo, hi


# The shapes are rasterised with vectorised numpy inside each shape's bounding box rather than with
# skimage.draw.polygon: its point-in-polygon test costs O(pixels x vertices); a first version built on
# skimage.draw.polygon/disk drew about 11 high (50-60%) masks/s at 512x512 on the 2-core CPU, this one over 100/s
# (benchmarks/bench_masks.py); a capsule (distance to a segment) also gives round, varying-width strokes in one pass.


def _grid(r0: int, r1: int, c0: int, c1: int) -> tuple[np.ndarray, np.ndarray]:
    return (np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5, np.arange(c0, c1, dtype=np.float32)[None, :] + 0.5)


def _bbox(lo: np.ndarray, hi: np.ndarray, h: int, w: int) -> tuple[int, int, int, int]:
    return (max(int(math.floor(lo[0])), 0), min(int(math.ceil(hi[0])) + 1, h),
            max(int(math.floor(lo[1])), 0), min(int(math.ceil(hi[1])) + 1, w))


def _stroke(rng: np.random.Generator, h: int, w: int, scale: float):
    """One streak: a random-walk polyline whose width varies linearly along each segment (round joints).

    Returns ``(box, shape, seed)``: the bounding box ``(r0, r1, c0, c1)``, a bool array of the box's size and the
    stroke's start point (used to trim an overshooting stroke from its start).
    """
    size = min(h, w)
    n_vertices = int(rng.integers(2, 7))
    start = rng.uniform((0, 0), (h, w))
    angle = rng.uniform(0, 2 * math.pi)
    pts = [start]
    for _ in range(n_vertices - 1):
        angle += rng.normal(0.0, 0.8)
        length = rng.uniform(0.05, 0.25) * size * scale
        pts.append(pts[-1] + length * np.array([math.sin(angle), math.cos(angle)]))
    pts = np.asarray(pts, dtype=np.float64)
    widths = rng.uniform(0.01, 0.06, size=n_vertices) * size * scale + 1.5
    pad = widths.max() / 2
    box = _bbox(pts.min(0) - pad, pts.max(0) + pad, h, w)
    shape = np.zeros((max(box[1] - box[0], 0), max(box[3] - box[2], 0)), dtype=bool)
    for k in range(n_vertices - 1):
        p, q, w0, w1 = pts[k], pts[k + 1], widths[k], widths[k + 1]
        pad = max(w0, w1) / 2
        r0, r1, c0, c1 = _bbox(np.minimum(p, q) - pad, np.maximum(p, q) + pad, h, w)
        if r1 <= r0 or c1 <= c0:
            continue
        y, x = _grid(r0, r1, c0, c1)
        d = q - p
        t = np.clip(((y - p[0]) * d[0] + (x - p[1]) * d[1]) / max(float(d @ d), 1e-12), 0.0, 1.0)
        dist2 = (y - p[0] - t * d[0]) ** 2 + (x - p[1] - t * d[1]) ** 2
        half = (w0 + t * (w1 - w0)) / 2
        shape[r0 - box[0]:r1 - box[0], c0 - box[2]:c1 - box[2]] |= dist2 <= half * half
    return box, shape, tuple(start)


def _hole(rng: np.random.Generator, h: int, w: int, scale: float):
    """One hole of arbitrary shape: a blob whose radius varies with the angle, r(theta) = R (1 + sum_k a_k
    cos(k theta + phi_k)), k = 1..4. Returns ``(box, shape, centre)`` as :func:`_stroke`."""
    size = min(h, w)
    centre = rng.uniform((0, 0), (h, w))
    radius = rng.uniform(0.02, 0.10) * size * scale
    k = np.arange(1, 5, dtype=np.float32)
    amp = (rng.uniform(0.0, 0.5, size=4) / k).astype(np.float32)
    phase = rng.uniform(0, 2 * math.pi, size=4).astype(np.float32)
    r_max = radius * (1 + amp.sum())
    box = _bbox(centre - r_max, centre + r_max, h, w)
    y, x = _grid(*box)
    dy, dx = y - centre[0], x - centre[1]
    # r(theta) tabulated on 256 angles and looked up, cheaper than evaluating the harmonics at every pixel.
    table = np.linspace(-math.pi, math.pi, 257, dtype=np.float32)[:, None]
    r_table = radius * np.maximum(1 + (amp * np.cos(k * table + phase)).sum(-1), 0.2)
    index = ((np.arctan2(dy, dx) + math.pi) * (256 / (2 * math.pi))).astype(np.intp)
    r_theta = r_table[index]
    return box, dy * dy + dx * dx <= r_theta * r_theta, tuple(centre)


def _one_mask(rng: np.random.Generator, h: int, w: int, lo_count: int, hi_count: int) -> np.ndarray:
    mask = np.zeros((h, w), dtype=bool)
    target = int(rng.integers(lo_count, hi_count + 1))
    # Bigger shapes for higher coverage, so a 60% mask takes tens of shapes rather than hundreds.
    scale = 1.0 + 2.0 * math.sqrt(target / (h * w))
    covered = 0
    for _ in range(100_000):  # a safety bound; every shape that lands on free pixels makes progress
        if covered >= target:
            return mask
        (r0, r1, c0, c1), shape, seed = (_stroke if rng.random() < 0.65 else _hole)(rng, h, w, scale)
        if shape.size == 0:
            continue
        region = mask[r0:r1, c0:c1]  # a view: writing to it writes to the mask
        new = shape & ~region  # pixels this shape would newly remove
        n_new = int(np.count_nonzero(new))
        if n_new == 0:
            continue
        if covered + n_new > hi_count:
            # Trim the overshooting shape to its pixels nearest the seed point (a stable sort keeps it
            # deterministic), landing exactly on the target coverage.
            rr, cc = np.nonzero(new)
            dist = (rr + r0 + 0.5 - seed[0]) ** 2 + (cc + c0 + 0.5 - seed[1]) ** 2
            keep = np.argsort(dist, kind="stable")[: target - covered]
            new = np.zeros_like(new)
            new[rr[keep], cc[keep]] = True
            n_new = keep.size
        region |= new
        covered += n_new
    raise RuntimeError("random_holes did not reach its target coverage; please report this as a bug")


def random_holes(
    height: int,
    width: int,
    *,
    ratio: tuple[float, float] | None = None,
    level: str | None = None,
    generator,
    batch: int | None = None,
) -> torch.Tensor:
    """Random streak-and-hole masks, ``True`` where pixels are removed (``M_holes`` of Eq. 1 of masksup, negated).

    Args:
        height, width: mask size in pixels.
        ratio: ``(lo, hi)``: the fraction of removed pixels lies in ``[lo, hi]`` for every mask (a target is
            drawn uniformly in the range, shapes are added until it is reached, the last one trimmed).
        level: ``"low"`` (1-10% of pixels) or ``"high"`` (50-60%), the two settings of Table 3 of masksup.
            Give ``ratio`` or ``level``, not both; with neither, ``"high"`` (the paper's default, "roughly over
            50%").
        generator: an int seed, a ``numpy.random.Generator`` or a ``torch.Generator``; the same seed gives the
            same masks.
        batch: ``None`` for one mask, or ``N`` for a batch.

    Returns:
        Bool tensor of shape ``(height, width)`` or ``(batch, height, width)``.
    """
    for name, v in (("height", height), ("width", width)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if batch is not None and (not isinstance(batch, (int, np.integer)) or batch < 1):
        raise ValueError(f"batch must be None or a positive int, got {batch!r}")
    lo, hi = _resolve_ratio(ratio, level)
    rng = _numpy_generator(generator)
    n_pixels = int(height) * int(width)
    lo_count, hi_count = math.ceil(lo * n_pixels - 1e-9), math.floor(hi * n_pixels + 1e-9)
    if lo_count > hi_count:
        raise ValueError(
            f"no whole number of pixels of a {height}x{width} mask gives a coverage in [{lo}, {hi}]; "
            "widen the ratio range or use a larger mask"
        )
    n = 1 if batch is None else int(batch)
    masks = np.stack([_one_mask(rng, int(height), int(width), lo_count, hi_count) for _ in range(n)])
    out = torch.from_numpy(masks)
    return out[0] if batch is None else out


def coverage(mask: torch.Tensor) -> torch.Tensor:
    """Fraction of removed pixels per mask: ``(..., H, W)`` bool -> ``(...)`` float."""
    return mask.float().mean(dim=(-2, -1))


def mask_statistics(masks: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-mask shape statistics of a ``(N, H, W)`` bool batch, for describing masks (8-connected components via
    ``scipy.ndimage.label``).

    Returns:
        ``{"coverage": (N,), "components": (N,) number of separate removed regions, "largest_fraction": (N,)
        share of the removed pixels that lie in the largest region}``.
    """
    from scipy import ndimage

    if masks.dim() != 3 or masks.dtype != torch.bool:
        raise ValueError(f"masks must be a (N, H, W) bool tensor, got {tuple(masks.shape)} {masks.dtype}")
    arr = masks.cpu().numpy()
    components, largest = [], []
    for m in arr:
        labels, n = ndimage.label(m, structure=np.ones((3, 3), dtype=bool))
        components.append(n)
        sizes = np.bincount(labels.ravel())[1:]
        largest.append(sizes.max() / sizes.sum() if n else 0.0)
    return {"coverage": arr.mean(axis=(1, 2)), "components": np.asarray(components),
            "largest_fraction": np.asarray(largest)}


def apply_mask(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Set removed pixels to 0 (Eq. 1 of masksup); call it on the *normalised* image, as the official code does.

    Args:
        image: ``(N, C, H, W)`` or ``(C, H, W)``.
        mask: bool, ``True`` where removed; ``(N, H, W)`` / ``(N, 1, H, W)`` for a batch, ``(H, W)`` for one image
            or for the whole batch.

    Returns:
        A new tensor shaped like ``image``.
    """
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor (True where removed), got dtype {mask.dtype}")
    if image.dim() not in (3, 4):
        raise ValueError(f"image must be (C, H, W) or (N, C, H, W), got shape {tuple(image.shape)}")
    if mask.shape[-2:] != image.shape[-2:]:
        raise ValueError(f"mask size {tuple(mask.shape[-2:])} differs from image size {tuple(image.shape[-2:])}")
    if mask.dim() == 3 and image.dim() == 4:
        if mask.shape[0] != image.shape[0]:
            raise ValueError(f"{mask.shape[0]} masks for a batch of {image.shape[0]} images")
        mask = mask[:, None]
    elif mask.dim() == 4 and (image.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] != image.shape[0]):
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not match image of shape {tuple(image.shape)}")
    elif mask.dim() not in (2, 3, 4) or (mask.dim() == 3 and image.dim() == 3):
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not match image of shape {tuple(image.shape)}")
    return image.masked_fill(mask.to(image.device), 0)


def irregular_masks(data_root, size: int, n: int | None = None) -> torch.Tensor | None:
    """Up to ``n`` PNG masks of the NVIDIA irregular-mask set from ``<data_root>/irregular-masks`` (sorted paths,
    any depth), resized to ``size`` x ``size`` (nearest), ``True`` where removed (white in the set's PNGs,
    binarised at 128). ``None`` when the folder is absent or holds no PNG."""
    from pathlib import Path

    from PIL import Image

    if data_root is None:
        return None
    folder = Path(data_root).expanduser() / IRREGULAR_MASKS_DIR
    paths = sorted(folder.rglob("*.png")) if folder.is_dir() else []
    if not paths:
        return None
    out = []
    for path in paths[:n]:
        img = Image.open(path).convert("L").resize((size, size), Image.NEAREST)
        out.append(torch.from_numpy(np.asarray(img) >= 128))
    return torch.stack(out)
