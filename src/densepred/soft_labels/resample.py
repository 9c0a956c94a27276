"""Label and image down-sampling for ``soft-labels``: nearest labels, soft labels, class priors, prior discrepancy.

Soft labels (Sec. III-B of soft-labels): the label map ``y`` (N, H, W) is one-hot encoded (Eq. 2; the void /
ignore label becomes the all-zero vector) and the one-hot planes are down-sampled with the *same* weight function
``f(h, w; u, v)`` as the colour image (Eq. 3). The result is, for every output pixel, the proportion of each class
among the input pixels that the colour sampler looks at.

How it is computed here
-----------------------
The straightforward implementation ``F.interpolate(one_hot(y))`` materialises a (N, C, H, W) float tensor: 2.5 GB
for one 2048x2048 map with 150 classes. We never build it. Every sampler used here (bilinear, bicubic, their
antialiased versions, and area = adaptive average pooling) is *separable*::

    ybar[n, c, u, v] = sum_{h, w} A[u, h] * B[v, w] * [y[n, h, w] == c]

with 1-D weight matrices ``A`` (H', H) and ``B`` (W', W) that have only a few non-zero *taps* per row. We obtain
the taps from torch itself, by applying ``F.interpolate`` (or ``F.adaptive_avg_pool2d``) to slices of an identity
matrix along one axis (the other axis kept at scale 1, which torch reproduces exactly), so border clamping,
``scale_factor`` versus ``size`` semantics and the antialias kernel widths are torch's own. Then, for each pair of
taps, we gather the label of the tapped input pixel and ``scatter_add`` the weight ``A * B`` into the class plane
of that label. Memory is the output (N, C, H', W') plus a bounded number of (N, H', W') temporaries; time is
proportional to N * H' * W' * (taps along H) * (taps along W), independent of C.

The only difference from the reference is the order of float32 additions (max abs difference ~1e-7, pinned by
``tests/test_resample.py`` and measured by ``benchmarks/bench_soft_labels.py``).
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F

LABEL_METHODS = ("nearest", "soft-bilinear", "soft-bicubic", "soft-area")
IMAGE_METHODS = ("nearest", "bilinear", "bicubic", "area")
#: The colour sampler paired with each label sampler (Table IV of soft-labels pairs colour and label sampling).
PAIRED_IMAGE_METHOD = {"nearest": "nearest", "soft-bilinear": "bilinear", "soft-bicubic": "bicubic",
                       "soft-area": "area"}

_SizeArg = int | Sequence[int] | None
_ScaleArg = float | Sequence[float] | None


# --- sizes and validation ---------------------------------------------------------------------------------


def _pair(value, name: str) -> tuple | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (value, value)
    value = tuple(value)
    if len(value) != 2:
        raise ValueError(f"{name} must be a number or a pair (for H and W), got {value!r}")
    return value


def _output_size(
    in_hw: tuple[int, int], size: _SizeArg, scale: _ScaleArg, allow_upsample: bool
) -> tuple[tuple[int, int], tuple[float, float] | None]:
    """Output (H', W') and the scale factors to hand to torch (``None`` when ``size`` was given).

    Uses torch's own rule for ``scale_factor``: ``H' = floor(H * scale)``, and the source coordinates are then
    computed from ``1 / scale`` (not from ``H / H'``), exactly as ``F.interpolate(scale_factor=...)`` does.
    """
    if (size is None) == (scale is None):
        raise ValueError("give exactly one of size=(H', W') or scale=s (e.g. scale=0.25 for 1/4 resolution)")
    if size is not None:
        out = _pair(size, "size")
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in out):
            raise TypeError(f"size must be integers, got {out!r}")
        scales = None
    else:
        scales = tuple(float(s) for s in _pair(scale, "scale"))
        if not all(math.isfinite(s) and s > 0 for s in scales):
            raise ValueError(f"scale must be positive and finite, got {scales!r}")
        out = tuple(int(math.floor(float(n) * s)) for n, s in zip(in_hw, scales))
    if min(out) < 1:
        raise ValueError(f"output size {out} from input {in_hw} is empty: use a larger size or scale")
    if not allow_upsample and (out[0] > in_hw[0] or out[1] > in_hw[1] or (scales and max(scales) > 1)):
        raise ValueError(
            f"this is a down-sampler: output {out} (scale {scales}) is larger than the input {in_hw}; "
            "pass allow_upsample=True if up-sampling is intended"
        )
    return out, scales


def _check_labels(labels: torch.Tensor, num_classes: int, ignore_index: int | None) -> None:
    """Raise a clear error unless ``labels`` is an integer (N, H, W) map with values in 0..C-1 or ignore."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor of integer class ids, got {type(labels).__name__}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(
            f"labels must hold integer class ids (e.g. torch.int64), got dtype {labels.dtype}; "
            "soft labels are an output of this module, not an input (use labels.long() if they are whole numbers)"
        )
    if labels.ndim != 3:
        raise ValueError(
            f"labels must have shape (N, H, W), got {tuple(labels.shape)}; use labels[None] for a single map "
            "or labels.squeeze(1) for an (N, 1, H, W) tensor"
        )
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    if ignore_index is not None and 0 <= ignore_index < num_classes:
        raise ValueError(f"ignore_index={ignore_index} is a valid class id for num_classes={num_classes}")
    if labels.numel() == 0:
        return
    lo, hi = (int(v) for v in torch.aminmax(labels))
    if lo >= 0 and hi < num_classes:
        return
    # Some value is outside 0..C-1 (usually the void label). One bincount pass over the map counts every value,
    # which is cheaper than several comparison masks; fall back to masks for negative or huge values.
    if lo >= 0 and hi < 1 << 20:
        counts = torch.bincount(labels.reshape(-1), minlength=hi + 1)
        counts[:num_classes] = 0
        if ignore_index is not None and 0 <= ignore_index <= hi:
            counts[ignore_index] = 0
        values = counts.nonzero().flatten()[:10].tolist()
    else:
        bad = (labels < 0) | (labels >= num_classes)
        if ignore_index is not None:
            bad &= labels != ignore_index
        values = torch.unique(labels[bad])[:10].tolist()
    if values:
        raise ValueError(
            f"labels contain values {values} outside 0..{num_classes - 1} that are not ignore_index={ignore_index}: "
            "map them to a train id or to the ignore index first"
        )


# --- 1-D interpolation taps -------------------------------------------------------------------------------


def _torch_mode(method: str) -> str:
    return method[len("soft-"):] if method.startswith("soft-") else method


def _window(in_size: int, out_size: int, scale: float | None, mode: str, antialias: bool) -> int:
    """An upper bound on how many consecutive input pixels one output pixel reads along an axis."""
    step = max(in_size / out_size, 1.0 / scale if scale else 0.0, 1.0)  # input pixels per output pixel
    if mode == "area":
        return math.ceil(in_size / out_size) + 2
    taps = 2 if mode == "bilinear" else 4
    return math.ceil(taps * (step if antialias else 1.0)) + 2


def axis_taps(
    in_size: int,
    out_size: int,
    scale: float | None,
    method: str,
    antialias: bool = False,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The non-zero taps of torch's 1-D resampling weights along one axis.

    Returns ``index`` (out_size, K) int64 and ``weight`` (out_size, K) float32 such that output ``u`` of a 1-D
    resample is ``sum_k weight[u, k] * x[index[u, k]]`` (unused slots have index 0 and weight 0).

    The weights are read off torch itself rather than re-derived: we resample a "comb" of unit impulses along
    this axis (the other axis kept at scale 1, which torch reproduces exactly). Column ``r`` of the comb has
    impulses at every input ``h`` with ``h % D == r``, with ``D`` larger than any output pixel's window, so each
    output sees at most one impulse per column and its response *is* torch's weight for that input pixel. A
    second comb carries ``h + 1`` instead of 1, and the ratio of the two responses recovers ``h``. Cost is
    O(in_size * D), memory O(out_size * D); a consistency check raises if the window bound were ever too small.
    """
    mode = _torch_mode(method)
    if mode not in ("bilinear", "bicubic", "area"):
        raise ValueError(f"axis_taps supports bilinear, bicubic and area, got {method!r}")
    d = min(in_size, _window(in_size, out_size, scale, mode, antialias))
    h = torch.arange(in_size, device=device)
    # At least 2 columns: torch 2.13's antialiased CPU kernel returns wrong values for a width-1 input.
    comb = torch.zeros(2, 1, in_size, max(d, 2), device=device)
    comb[0, 0, h, h % d] = 1.0
    comb[1, 0, h, h % d] = (h + 1).float()  # exact in float32 for in_size < 2**24
    if mode == "area":
        resp = F.adaptive_avg_pool2d(comb, (out_size, comb.shape[-1]))
    elif scale is None:
        resp = F.interpolate(comb, size=(out_size, comb.shape[-1]), mode=mode, align_corners=False, antialias=antialias)
    else:
        resp = F.interpolate(comb, scale_factor=(scale, 1.0), mode=mode, align_corners=False, antialias=antialias)
    weight_map, index_map = resp[0, 0], resp[1, 0]  # (out_size, D)
    u, r = weight_map.nonzero(as_tuple=True)
    w = weight_map[u, r]
    ratio = index_map[u, r].double() / w.double()
    src = torch.round(ratio).long() - 1
    if u.numel() == 0 or bool(((ratio - torch.round(ratio)).abs() > 1e-3).any()) or bool(
            ((src < 0) | (src >= in_size) | (src % d != r)).any()):
        raise RuntimeError(f"could not separate the {mode} taps ({in_size}->{out_size}, scale={scale}, "
                           f"antialias={antialias}); please report this as a bug")
    order = torch.argsort(u * in_size + src)
    u, src, w = u[order], src[order], w[order]
    counts = torch.bincount(u, minlength=out_size)
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.arange(u.numel(), device=u.device) - starts[u]
    k_max = int(counts.max())
    index = torch.zeros(out_size, k_max, dtype=torch.long, device=u.device)
    weight = torch.zeros(out_size, k_max, dtype=torch.float32, device=u.device)
    index[u, slot] = src
    weight[u, slot] = w
    return index, weight


def _nearest_index(in_size: int, out_size: int, scale: float | None, device) -> torch.Tensor:
    """Source index of torch's ``mode="nearest"`` along one axis (exact: the coordinates are small integers)."""
    src = torch.arange(in_size, dtype=torch.float32, device=device)[None, None, :, None]
    if scale is None:
        idx = F.interpolate(src, size=(out_size, 1), mode="nearest")
    else:
        idx = F.interpolate(src, scale_factor=(scale, 1.0), mode="nearest")
    return idx[0, 0, :, 0].long()


# --- label down-sampling ----------------------------------------------------------------------------------


def downsample_labels(
    labels: torch.Tensor,
    size: _SizeArg = None,
    scale: _ScaleArg = None,
    method: str = "soft-bilinear",
    *,
    num_classes: int,
    ignore_index: int | None = 255,
    antialias: bool = False,
    allow_upsample: bool = False,
    bicubic_clamp: bool = True,
    dtype: torch.dtype = torch.float32,
    block_elements: int = 1 << 17,
    window: tuple[int, int, int, int] | None = None,
) -> torch.Tensor:
    """Down-sample a label map with Nearest Neighbour or with soft labels (Sec. III-B, Eqs. 2-3 of soft-labels).

    Args:
        labels: (N, H, W) integer class ids in ``0..num_classes-1``, or ``ignore_index`` (void).
        size / scale: the output (H', W') or the factor(s) (``scale=0.25`` is the paper's 1/4); exactly one.
            With ``scale``, torch's rule applies: ``H' = floor(H * scale)`` and source coordinates use ``1/scale``.
        method: ``"nearest"`` (the usual label sampler) or ``"soft-bilinear"`` / ``"soft-bicubic"`` /
            ``"soft-area"`` (soft labels paired with the colour sampler of the same name).
        num_classes: C.
        ignore_index: void label, encoded as the all-zero vector (as in the authors' code); ``None`` for none.
        antialias: passed to ``F.interpolate`` (bilinear / bicubic only). The paper's torchvision had it off.
        allow_upsample: allow an output larger than the input (refused by default: this is a down-sampler).
        bicubic_clamp: soft-bicubic only. Bicubic weights have negative lobes, so the raw interpolated one-hot
            can hold negative class values and values above 1. With ``True`` (default) each pixel is made a valid
            soft label: negative entries are set to 0 and the pixel is rescaled so its class mass equals its
            pre-clamp mass clipped to [0, 1] (so pixels with no void in reach still sum to 1, and pixels near void
            keep their non-void share). With ``False`` the raw interpolation is returned, equal to
            ``F.interpolate(one_hot, mode="bicubic")``, negatives included.
        dtype: output dtype of the soft labels (float32 matches the reference).
        block_elements: taps processed per step (at least one output row and one tap pair); bounds the
            temporaries to about 30 bytes per tap (about 4 MB by default) whatever the input size.
        window: ``(top, left, height, width)`` inside the (H', W') output: compute only that crop (equal to
            slicing the full output, at the crop's cost; the crop-based augmentation uses it).

    Returns:
        ``"nearest"``: hard labels (N, H', W') of ``labels.dtype``, equal to ``F.interpolate(mode="nearest")``.
        soft methods: soft labels (N, C, H', W') equal to ``F.interpolate(one_hot(labels), mode=...,
        align_corners=False, antialias=antialias)`` (``F.adaptive_avg_pool2d`` for area), where void pixels are
        all-zero vectors. The full-resolution one-hot tensor is never materialised (see the module docstring).
        The soft labels are NCHW class planes (contiguous for N = 1; a view that drops the void plane otherwise).
    """
    if method not in LABEL_METHODS:
        raise ValueError(f"method must be one of {LABEL_METHODS}, got {method!r}")
    _check_labels(labels, num_classes, ignore_index)
    if antialias and method not in ("soft-bilinear", "soft-bicubic"):
        raise ValueError(f"antialias applies to soft-bilinear and soft-bicubic only, not {method!r}")
    n, h, w = labels.shape
    (oh, ow), scales = _output_size((h, w), size, scale, allow_upsample)
    sh, sw = scales if scales is not None else (None, None)
    dev = labels.device
    rows_sel = cols_sel = slice(None)
    if window is not None:  # only these output pixels: the same values as slicing the full output, less work
        top, left, wh, ww = (int(v) for v in window)
        if not (0 <= top and 0 <= left and wh >= 1 and ww >= 1 and top + wh <= oh and left + ww <= ow):
            raise ValueError(f"window (top, left, height, width) = {window!r} must lie inside the output {oh}x{ow}")
        rows_sel, cols_sel = slice(top, top + wh), slice(left, left + ww)

    if method == "nearest":
        hi = _nearest_index(h, oh, sh, dev)[rows_sel]
        wi = _nearest_index(w, ow, sw, dev)[cols_sel]
        return labels.index_select(1, hi).index_select(2, wi)

    h_idx, h_w = (t[rows_sel] for t in axis_taps(h, oh, sh, method, antialias, dev))
    w_idx, w_w = (t[cols_sel] for t in axis_taps(w, ow, sw, method, antialias, dev))
    oh, ow = h_idx.shape[0], w_idx.shape[0]
    kh, kw = h_idx.shape[1], w_idx.shape[1]
    # Accumulate straight into the (N, C, H', W') class planes (NCHW, contiguous): each tap pair adds its weight
    # f(h, w; u, v) = A[u, h] * B[v, w] into the plane of the tapped label with one ``scatter_add_`` along the class
    # dimension. Writing the planes directly (rather than channels-last, then a transposing copy) is what makes the
    # soft path cheap inside the crop pipeline (benchmarks/bench_soft_labels.py --loader). One extra plane at the
    # end collects the taps that hit void pixels (the all-zero one-hot vector) and is dropped.
    out = torch.zeros(n, num_classes + 1, oh, ow, dtype=dtype, device=dev)
    # Walk the output in blocks of rows, so that within a block every tap pair's temporaries are about
    # `block_elements` elements whatever the input size; tap pairs are batched within a block.
    pairs = torch.cartesian_prod(torch.arange(kh, device=dev), torch.arange(kw, device=dev)).reshape(-1, 2)
    rows = max(1, min(oh, block_elements // (n * ow)))
    pairs_per_step = max(1, block_elements // (n * rows * ow))
    flat_labels = labels.reshape(n, h * w)
    h_idx_t, h_w_t, w_idx_t, w_w_t = (x.T.contiguous() for x in (h_idx, h_w, w_idx, w_w))  # (K, H') / (K, W')
    for u0 in range(0, oh, rows):
        u1 = min(oh, u0 + rows)
        for p0 in range(0, pairs.shape[0], pairs_per_step):
            i, j = pairs[p0:p0 + pairs_per_step].unbind(1)  # (P,)
            src = h_idx_t[i, u0:u1, None] * w + w_idx_t[j, None, :]  # (P, R, W') tapped input pixel
            weight = (h_w_t[i, u0:u1, None] * w_w_t[j, None, :]).to(dtype)  # (P, R, W')
            tapped = flat_labels.gather(1, src.view(1, -1).expand(n, -1)).view(n, *src.shape).long()  # (N,P,R,W')
            if ignore_index is not None:
                tapped.masked_fill_(tapped == ignore_index, num_classes)
            out[:, :, u0:u1].scatter_add_(1, tapped, weight.expand_as(tapped))
    out = out[:, :num_classes]  # (N, C, H', W'); contiguous when N == 1
    if method == "soft-bicubic" and bicubic_clamp:
        out = _clamp_soft(out)
    return out


def _clamp_soft(soft: torch.Tensor) -> torch.Tensor:
    """Make bicubic soft labels valid in place: no negatives, per-pixel mass = raw mass clipped to [0, 1]."""
    mass = soft.sum(1, keepdim=True).clamp_(0.0, 1.0)
    soft.clamp_(min=0.0)
    total = soft.sum(1, keepdim=True)
    factor = torch.where(total > 0, mass / total.clamp(min=torch.finfo(soft.dtype).tiny), torch.zeros_like(total))
    return soft.mul_(factor)


def onehot_reference(labels: torch.Tensor, size: _SizeArg = None, scale: _ScaleArg = None,
                     method: str = "soft-bilinear", *, num_classes: int, ignore_index: int | None = 255,
                     antialias: bool = False) -> torch.Tensor:
    """The straightforward soft labels: full-resolution one-hot (N, C, H, W), then ``F.interpolate``.

    Kept as the reference for tests and ``benchmarks/bench_soft_labels.py``; memory is O(N * C * H * W).
    The one-hot is written with ``scatter_`` into C+1 planes (the extra one takes void pixels and is dropped),
    which is leaner than ``F.one_hot`` (int64, channels last) but still full resolution. No bicubic clamping.
    """
    _check_labels(labels, num_classes, ignore_index)
    n, h, w = labels.shape
    ids = labels.long()
    if ignore_index is not None:
        ids = ids.masked_fill(labels == ignore_index, num_classes)
    onehot = torch.zeros(n, num_classes + 1, h, w)
    onehot.scatter_(1, ids[:, None], 1.0)
    onehot = onehot[:, :num_classes]
    if method == "soft-area":
        _, scales = _output_size((h, w), size, scale, True)
        out_size = size if size is not None else tuple(int(math.floor(d * s)) for d, s in zip((h, w), scales))
        return F.adaptive_avg_pool2d(onehot, out_size)
    return F.interpolate(onehot, size=size, scale_factor=scale, mode=_torch_mode(method), align_corners=False,
                         antialias=antialias)


def single_class_mask(soft: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """(N, H', W') bool: pixels whose soft label is single-class (``exists c: ybar^c = 1``, Sec. III-C).

    A pixel is single-class when its largest class value is at least ``1 - eps``. Multi-class (MC) pixels are
    the others, including pixels that are partly void (their largest value is below 1) and fully void pixels.
    """
    if soft.ndim != 4:
        raise ValueError(f"soft labels must have shape (N, C, H, W), got {tuple(soft.shape)}")
    return soft.amax(1) >= 1.0 - eps


# --- image down-sampling ----------------------------------------------------------------------------------


def downsample_image(
    image: torch.Tensor,
    size: _SizeArg = None,
    scale: _ScaleArg = None,
    method: str = "bilinear",
    *,
    antialias: bool = False,
    allow_upsample: bool = False,
) -> torch.Tensor:
    """Down-sample a colour image with the sampler paired to a label method (``d_x`` of Eq. 3 of soft-labels).

    A thin wrapper on ``F.interpolate(align_corners=False)`` (``F.adaptive_avg_pool2d`` for area, like
    ``F.interpolate(mode="area")``) with the same size/scale rules as :func:`downsample_labels`, so that
    ``downsample_image(x, scale=s, method="bilinear")`` and
    ``downsample_labels(y, scale=s, method="soft-bilinear")`` sample exactly the same input pixels with the same
    weights. ``method`` may also be a label method (``"soft-bicubic"`` -> ``"bicubic"``).
    Bicubic can overshoot the input's value range; no clamping is applied.

    Args:
        image: (N, K, H, W) floating point.
    Returns:
        (N, K, H', W') of ``image.dtype``.
    """
    method = PAIRED_IMAGE_METHOD.get(method, method)
    if method not in IMAGE_METHODS:
        raise ValueError(f"method must be one of {IMAGE_METHODS} (or a label method {LABEL_METHODS}), got {method!r}")
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or not image.is_floating_point():
        raise ValueError("image must be a floating-point tensor of shape (N, K, H, W); "
                         "use image[None] for a single image and image.float() for uint8 data")
    if antialias and method not in ("bilinear", "bicubic"):
        raise ValueError(f"antialias applies to bilinear and bicubic only, not {method!r}")
    (oh, ow), scales = _output_size(tuple(image.shape[-2:]), size, scale, allow_upsample)
    if method == "area":
        return F.adaptive_avg_pool2d(image, (oh, ow))
    if method == "nearest":
        return F.interpolate(image, size=None if scales else (oh, ow), scale_factor=scales, mode="nearest")
    return F.interpolate(image, size=None if scales else (oh, ow), scale_factor=scales, mode=method,
                         align_corners=False, antialias=antialias)


# --- class priors and prior discrepancy (Eq. 5) -----------------------------------------------------------


def _class_mass(x: torch.Tensor, num_classes: int, ignore_index: int | None) -> torch.Tensor:
    """Per-class pixel mass (C,) float64 of hard labels (any shape) or soft labels (N, C, H, W) / (C, H, W)."""
    if x.is_floating_point():
        if x.ndim not in (3, 4) or x.shape[-3] != num_classes:
            raise ValueError(f"soft labels must have shape (N, C, H, W) or (C, H, W) with C={num_classes}, "
                             f"got {tuple(x.shape)}")
        dims = [d for d in range(x.ndim) if d != x.ndim - 3]
        return x.sum(dim=dims, dtype=torch.float64)
    if x.ndim < 1:
        raise ValueError("hard labels must have at least one dimension")
    labels = x.reshape(1, 1, -1)
    _check_labels(labels, num_classes, ignore_index)
    valid = labels[(labels >= 0) & (labels < num_classes)].long()
    return torch.bincount(valid, minlength=num_classes).to(torch.float64)


def class_priors(labels_or_soft: torch.Tensor, num_classes: int, ignore_index: int | None = 255) -> torch.Tensor:
    """Class priors p_c (C,) float64: per-class pixel mass over the total valid mass (p of Eq. 5, soft-labels).

    Hard labels (integer, any shape): counts of each class over non-void pixels. Soft labels (float,
    (N, C, H, W) or (C, H, W)): summed class mass, so a half-void pixel counts half.
    """
    return PriorAccumulator(num_classes, ignore_index).update(labels_or_soft).priors()


class PriorAccumulator:
    """Streaming class priors over a dataset split: ``update`` batch by batch, then ``priors()``.

    Only the (C,) float64 class mass is kept, so a whole split never sits in memory. Works with hard labels and
    with soft labels (see :func:`class_priors`).
    """

    def __init__(self, num_classes: int, ignore_index: int | None = 255):
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.mass = torch.zeros(num_classes, dtype=torch.float64)

    def update(self, batch: torch.Tensor) -> "PriorAccumulator":
        self.mass += _class_mass(batch, self.num_classes, self.ignore_index).cpu()
        return self

    @property
    def total(self) -> float:
        return float(self.mass.sum())

    def priors(self) -> torch.Tensor:
        if self.total <= 0:
            raise ValueError("no valid (non-void) pixels were accumulated: call update() with label batches first")
        return self.mass / self.mass.sum()


def prior_discrepancy(original, downsampled) -> torch.Tensor:
    """Per-class prior discrepancy ``D_{d,c} = p_original,c - p_d,c`` (Eq. 5 of soft-labels), (C,) float64.

    Each argument is a (C,) prior vector or a :class:`PriorAccumulator`. Table V of the paper shows ``D * 1e4``.
    """
    p, q = (x.priors() if isinstance(x, PriorAccumulator) else torch.as_tensor(x, dtype=torch.float64)
            for x in (original, downsampled))
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(f"priors must be two (C,) vectors of the same length, got {tuple(p.shape)} and "
                         f"{tuple(q.shape)}")
    return p - q


def stream_priors(
    label_batches: Iterable[torch.Tensor],
    num_classes: int,
    samplings: Mapping[str, tuple[str, float]] | Sequence[tuple[str, float]],
    ignore_index: int | None = 255,
    antialias: bool = False,
) -> dict:
    """Class priors of a split at full resolution and under each down-sampling, in one streaming pass.

    Args:
        label_batches: iterable of (N, H, W) integer label batches (e.g. a DataLoader over a split).
        samplings: ``{name: (method, scale)}`` or a list of ``(method, scale)`` (named ``"method@scale"``); a
            third element, a dict, passes more keyword arguments to :func:`downsample_labels` (e.g. antialias).
    Returns:
        ``{"original": (C,), name: (C,), ...}`` float64 priors; ``prior_discrepancy(out["original"], out[name])``
        gives Eq. 5.
    """
    if not isinstance(samplings, Mapping):
        samplings = {f"{spec[0]}@{spec[1]:g}": spec for spec in samplings}
    accs = {"original": PriorAccumulator(num_classes, ignore_index)}
    accs.update({name: PriorAccumulator(num_classes, ignore_index) for name in samplings})
    for batch in label_batches:
        accs["original"].update(batch)
        for name, (method, s, *extra) in samplings.items():
            kwargs = {"antialias": antialias, **(extra[0] if extra else {})}
            accs[name].update(downsample_labels(batch, scale=s, method=method, num_classes=num_classes,
                                                ignore_index=ignore_index, **kwargs))
    return {name: acc.priors() for name, acc in accs.items()}


# --- figures (Figs. 3-4 of soft-labels); matplotlib is imported lazily --------------------------------------


def soft_to_rgb(soft: torch.Tensor, palette, void_color=(0, 0, 0)):
    """Colour a soft (C, H, W) or hard (H, W) label map with a (C, 3) uint8 palette; returns (H, W, 3) uint8.

    A soft pixel gets the mass-weighted mix of its classes' colours; its missing (void) mass is drawn in
    ``void_color``. Hard labels outside the palette (void) get ``void_color``.
    """
    import numpy as np

    pal = torch.as_tensor(np.asarray(palette), dtype=torch.float32)
    void = torch.as_tensor(void_color, dtype=torch.float32)
    if soft.is_floating_point():
        mix = torch.einsum("chw,ck->hwk", soft.float(), pal) + (1 - soft.sum(0)).clamp(min=0)[..., None] * void
    else:
        valid = (soft >= 0) & (soft < pal.shape[0])
        mix = torch.where(valid[..., None], pal[soft.clamp(0, pal.shape[0] - 1).long()], void)
    return mix.round().clamp(0, 255).to(torch.uint8).numpy()


def soft_class_cmap():
    """The colour map of Fig. 3: 0 -> white (use ``vmin`` just above 0), partial mass -> yellow, 1 -> blue."""
    from matplotlib.colors import LinearSegmentedColormap

    cmap = LinearSegmentedColormap.from_list("soft-label", ["#f2d22e", "#7aa36b", "#1f3fbf"])
    cmap.set_under("white")
    return cmap


def plot_class_panels(hard: torch.Tensor, soft: torch.Tensor, classes: Sequence[int], class_names: Sequence[str],
                      row_names: Sequence[str] = ("Nearest Neighbour", "soft label")):
    """Fig. 3 of soft-labels: one column per class; top: hard labels == c (blue), bottom: soft mass of c.

    Args:
        hard: (H', W') Nearest-Neighbour labels; soft: (C, H', W') soft labels.
    Returns:
        the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    cmap = soft_class_cmap()
    fig, axes = plt.subplots(2, len(classes), figsize=(2.6 * len(classes), 3.2), squeeze=False)
    for col, c in enumerate(classes):
        for row, img in enumerate(((hard == c).float(), soft[c].float())):
            ax = axes[row, col]
            ax.imshow(img.numpy(), cmap=cmap, vmin=1e-6, vmax=1.0, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(class_names[c], fontsize=9)
            if col == 0:
                ax.set_ylabel(row_names[row], fontsize=9)
    fig.tight_layout()
    return fig


def plot_class_distributions(dists: Mapping[str, torch.Tensor], class_names: Sequence[str], ax=None):
    """Fig. 4 (bottom row) of soft-labels: grouped bars of several (C,) class distributions, present classes only."""
    import matplotlib.pyplot as plt
    import numpy as np

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    stacked = torch.stack([torch.as_tensor(d, dtype=torch.float64) for d in dists.values()])
    present = (stacked > 0).any(0).nonzero().flatten().tolist()
    x = np.arange(len(present))
    width = 0.8 / len(dists)
    for k, (name, d) in enumerate(dists.items()):
        ax.bar(x + (k - (len(dists) - 1) / 2) * width, torch.as_tensor(d)[present].numpy(), width, label=name)
    ax.set_xticks(x, [class_names[c] for c in present], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("share of the region")
    ax.legend(fontsize=8)
    return ax
