"""Binary biomedical stand-ins: `synth-nuclei`, `synth-glands`, `synth-vessels`, `synth-polyps`.

Each generator draws the geometry with scikit-image (``skimage.draw``), colours it, then applies an
image-specific **difficulty** (contrast between object and background, stain/colour shift, blur, noise) so that
prediction quality varies from image to image (the spread that the prediction-quality assessment of
spatial-lifting, Table IV, correlates against). Masks are 0/1.

Every function takes a ``numpy.random.Generator`` and a size ``(H, W)`` and returns
``(image (H,W,3) float32 0..1, mask (H,W) uint8 0/1, difficulty dict)``.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.draw import disk, ellipse, line, polygon

from .street import textures


def sample_difficulty(rng: np.random.Generator) -> dict:
    """Per-image difficulty: one latent level in [0, 1] drives contrast, blur, noise and stain shift (with
    independent jitter), and is recorded as ``level``."""
    level = float(rng.uniform(0, 1))

    def jit(x):
        return float(np.clip(x + rng.normal(0, 0.1), 0, 1))

    return {
        "level": level,
        "contrast": 1.0 - 0.75 * jit(level),        # object/background contrast multiplier
        "blur_sigma": 0.2 + 2.2 * jit(level),        # pixels at 256 px
        "noise_sigma": 0.005 + 0.09 * jit(level),    # additive Gaussian noise (image in 0..1)
        "stain_shift": 0.07 * jit(level),            # random colour shift magnitude
    }


def _blend(bg: np.ndarray, fg: np.ndarray, alpha: np.ndarray, contrast: float) -> np.ndarray:
    """Object colour ``fg`` over background ``bg`` with opacity ``alpha`` scaled by the contrast."""
    a = (alpha * contrast)[..., None]
    return bg * (1 - a) + fg * a


def _degrade(rng, img: np.ndarray, d: dict, scale: float) -> np.ndarray:
    img = img + rng.normal(0, d["stain_shift"], 3).astype(np.float32)
    s = d["blur_sigma"] * scale
    if s > 0.3:
        img = gaussian_filter(img, (s, s, 0))
    img = img + rng.standard_normal(img.shape, dtype=np.float32) * np.float32(d["noise_sigma"])
    return np.clip(img, 0, 1).astype(np.float32)


def _texture(rng, H, W, name="noise", zoom=1.0):
    """A window of a bundled texture (gravel/grass/brick from scikit-image, or smooth noise), resampled."""
    t = textures()[name]
    n = t.shape[0]
    ys = ((np.arange(H) * zoom + rng.integers(n)) % n).astype(np.int64)
    xs = ((np.arange(W) * zoom + rng.integers(n)) % n).astype(np.int64)
    return t[ys[:, None], xs[None, :]]


def _blob_polygon(rng, cy, cx, r, irregularity, n=48):
    """Irregular closed contour: radius r * (1 + sum_k a_k cos(k theta + phi_k))."""
    th = np.linspace(0, 2 * np.pi, n, endpoint=False)
    rad = np.ones(n)
    for k in range(2, 6):
        rad += rng.normal(0, irregularity / k) * np.cos(k * th + rng.uniform(0, 2 * np.pi))
    rad = np.clip(rad, 0.35, 1.8) * r
    return cy + rad * np.sin(th), cx + rad * np.cos(th)


def nuclei(rng: np.random.Generator, size=(256, 256)):
    """Many small, touching nuclei of varied size; fluorescence (dark background) or H&E-like colours."""
    H, W = size
    sc = min(H, W) / 256
    d = sample_difficulty(rng)
    mask = np.zeros((H, W), np.uint8)
    inten = np.zeros((H, W), np.float32)
    n_clusters = rng.integers(2, 7)
    centres = rng.uniform(0, 1, (n_clusters, 2)) * (H, W)
    n = int(rng.integers(20, 90) * (H * W) / 256**2)
    for _ in range(max(n, 3)):
        if rng.random() < 0.6:
            cy, cx = centres[rng.integers(n_clusters)] + rng.normal(0, 30 * sc, 2)
        else:
            cy, cx = rng.uniform(0, H), rng.uniform(0, W)
        r = rng.uniform(3, 10) * sc
        rr, cc = ellipse(cy, cx, r, r * rng.uniform(0.6, 1.0), shape=(H, W), rotation=rng.uniform(0, np.pi))
        mask[rr, cc] = 1
        inten[rr, cc] = rng.uniform(0.6, 1.0)
    chrom = 0.85 + 0.15 * _texture(rng, H, W, "gravel", 1 / sc)
    fluo = rng.random() < 0.5
    if fluo:
        bg = np.broadcast_to(np.float32([0.03, 0.03, 0.06]), (H, W, 3)) * (1 + 0.3 * _texture(rng, H, W))[..., None]
        fg = np.float32([0.45, 0.55, 0.95]) * (inten * chrom)[..., None]
    else:
        bg = np.float32([0.9, 0.7, 0.8]) * (1 + 0.05 * _texture(rng, H, W, "grass", 1 / sc))[..., None]
        fg = np.float32([0.35, 0.2, 0.5]) * (1.2 - 0.4 * inten * chrom)[..., None]
    img = _blend(bg, fg, mask.astype(np.float32), d["contrast"])
    d["style"] = "fluorescence" if fluo else "H&E"
    return _degrade(rng, img.astype(np.float32), d, sc), mask, d


def glands(rng: np.random.Generator, size=(256, 256)):
    """Large irregular glands (H&E): epithelium ring with nuclei around a pale lumen; mask = whole gland."""
    H, W = size
    sc = min(H, W) / 256
    d = sample_difficulty(rng)
    malignant = rng.random() < 0.5
    mask = np.zeros((H, W), np.uint8)
    lumen = np.zeros((H, W), np.uint8)
    nuc = np.zeros((H, W), np.uint8)
    for _ in range(rng.integers(1, 5)):
        cy, cx = rng.uniform(0.1, 0.9) * H, rng.uniform(0.1, 0.9) * W
        r = rng.uniform(25, 70) * sc
        py, px = _blob_polygon(rng, cy, cx, r, 0.5 if malignant else 0.2)
        rr, cc = polygon(py, px, (H, W))
        mask[rr, cc] = 1
        k = rng.uniform(0.35, 0.7)
        ly, lx = cy + (py - cy) * k, cx + (px - cx) * k
        rr, cc = polygon(ly, lx, (H, W))
        lumen[rr, cc] = 1
        # nuclei along the basal side of the epithelium
        for t in np.linspace(0, 1, int(len(py) * 2 * (1.5 if malignant else 1)), endpoint=False):
            i = int(t * len(py))
            f = rng.uniform(0.8, 0.95)
            ny, nx = cy + (py[i] - cy) * f, cx + (px[i] - cx) * f
            rr, cc = disk((ny, nx), rng.uniform(1.5, 3.5) * sc * (1.4 if malignant else 1), shape=(H, W))
            nuc[rr, cc] = 1
    stroma = np.float32([0.92, 0.62, 0.75]) * (1 + 0.12 * _texture(rng, H, W, "grass", 0.7 / sc))[..., None]
    epi = np.float32([0.75, 0.45, 0.7]) * (1 + 0.08 * _texture(rng, H, W, "gravel", 1 / sc))[..., None]
    img = _blend(stroma, epi, mask.astype(np.float32), d["contrast"])
    img = _blend(img, np.float32([0.97, 0.93, 0.96]), (lumen * mask).astype(np.float32), 0.3 + 0.7 * d["contrast"])
    img = _blend(img, np.float32([0.3, 0.15, 0.45]), (nuc * mask).astype(np.float32), 0.3 + 0.6 * d["contrast"])
    d["grade"] = "malignant" if malignant else "benign"
    return _degrade(rng, img.astype(np.float32), d, sc), mask, d


def vessels(rng: np.random.Generator, size=(256, 256)):
    """Thin branching curvilinear vessels (1..~6 px) on a fundus-like background (disc, FOV circle)."""
    H, W = size
    sc = min(H, W) / 256
    d = sample_difficulty(rng)
    mask = np.zeros((H, W), np.uint8)
    cy, cx = H / 2, W / 2
    fov = (np.arange(H)[:, None] - cy) ** 2 / (0.48 * H) ** 2 + (np.arange(W)[None, :] - cx) ** 2 / (0.48 * W) ** 2
    fov = fov <= 1
    disc_y, disc_x = cy + rng.uniform(-0.1, 0.1) * H, cx + rng.choice([-1, 1]) * rng.uniform(0.15, 0.3) * W
    stack = [(disc_y, disc_x, rng.uniform(0, 2 * np.pi), rng.uniform(3.5, 6) * sc, 0) for _ in range(4)]
    stack = [(y, x, a + i * np.pi / 2, w, g) for i, (y, x, a, w, g) in enumerate(stack)]
    n_seg = 0
    while stack and n_seg < 400:
        y, x, ang, w, gen = stack.pop()
        length = rng.uniform(15, 45) * sc
        steps = 4
        for _ in range(steps):
            ang += rng.normal(0, 0.25)
            ny, nx = y + np.sin(ang) * length / steps, x + np.cos(ang) * length / steps
            if w < 1.5:  # 1 px wide: a connected Bresenham line (thin polygons rasterise into dots)
                rr, cc = line(int(round(y)), int(round(x)), int(round(ny)), int(round(nx)))
                keep = (rr >= 0) & (rr < H) & (cc >= 0) & (cc < W)
                rr, cc = rr[keep], cc[keep]
            else:
                nrm = np.array([np.cos(ang), -np.sin(ang)]) * w / 2
                py = [y + nrm[1], ny + nrm[1], ny - nrm[1], y - nrm[1]]
                px = [x + nrm[0], nx + nrm[0], nx - nrm[0], x - nrm[0]]
                rr, cc = polygon(py, px, (H, W))
            mask[rr, cc] = 1
            n_seg += 1
            y, x = ny, nx
        if not (0 <= y < H and 0 <= x < W) or gen > 6:
            continue
        if w > 1.0 * sc and rng.random() < 0.85:
            for s in (-1, 1):
                stack.append((y, x, ang + s * rng.uniform(0.3, 0.8), w * rng.uniform(0.6, 0.85), gen + 1))
        else:
            stack.append((y, x, ang, w * 0.9, gen + 1))
    mask &= fov.astype(np.uint8)
    yy, xx = np.mgrid[0:H, 0:W]
    rad = np.sqrt(((yy - cy) / H) ** 2 + ((xx - cx) / W) ** 2)
    bg = np.float32([0.8, 0.35, 0.15]) * (1.1 - 0.8 * rad)[..., None].astype(np.float32)
    bg = bg * (1 + 0.08 * _texture(rng, H, W, "noise", 2 / sc))[..., None]
    disc = np.exp(-(((yy - disc_y) ** 2 + (xx - disc_x) ** 2) / (2 * (14 * sc) ** 2))).astype(np.float32)
    bg = bg + disc[..., None] * np.float32([0.35, 0.35, 0.2])
    img = _blend(bg, np.float32([0.45, 0.1, 0.05]), mask.astype(np.float32), 0.9 * d["contrast"] + 0.1)
    img = img * fov[..., None]
    return _degrade(rng, img.astype(np.float32), d, sc) * fov[..., None], mask, d


def polyps(rng: np.random.Generator, size=(256, 256)):
    """One low-contrast polyp with an ambiguous (soft) boundary on textured mucosa with folds and glare."""
    H, W = size
    sc = min(H, W) / 256
    d = sample_difficulty(rng)
    cy, cx = rng.uniform(0.25, 0.75) * H, rng.uniform(0.25, 0.75) * W
    r = rng.uniform(0.08, 0.3) * min(H, W)
    py, px = _blob_polygon(rng, cy, cx, r, 0.25)
    mask = np.zeros((H, W), np.uint8)
    rr, cc = polygon(py, px, (H, W))
    mask[rr, cc] = 1
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    folds = np.sin((yy * np.cos(rng.uniform(0, np.pi)) + xx * np.sin(rng.uniform(0, np.pi))) / (9 * sc)
                   + 2 * _texture(rng, H, W, "noise", 0.5 / sc)) * 0.5 + 0.5
    vign = 1 - 0.6 * (((yy - H / 2) / H) ** 2 + ((xx - W / 2) / W) ** 2) * 2
    bg = np.float32([0.85, 0.45, 0.38]) * ((0.75 + 0.25 * folds) * vign)[..., None]
    bg = bg * (1 + 0.06 * _texture(rng, H, W, "gravel", 1 / sc))[..., None]
    fg = np.float32([0.95, 0.6, 0.5]) * (1 + 0.1 * _texture(rng, H, W, "grass", 1 / sc))[..., None] * vign[..., None]
    soft = gaussian_filter(mask.astype(np.float32), (2 + 6 * d["level"]) * sc)
    img = _blend(bg, fg, soft, 0.25 + 0.75 * d["contrast"])
    for _ in range(rng.integers(3, 12)):  # specular glare
        rr, cc = disk((rng.uniform(0, H), rng.uniform(0, W)), rng.uniform(1, 4) * sc, shape=(H, W))
        img[rr, cc] = 0.98
    return _degrade(rng, img.astype(np.float32), d, sc), mask, d


GENERATORS = {"synth-nuclei": nuclei, "synth-glands": glands, "synth-vessels": vessels, "synth-polyps": polyps}
