"""`synth-street`: a Cityscapes / KITTI stand-in rendered by a real pinhole camera.

The scene is a flat ground plane (road, sidewalk, terrain) seen by a camera at height ``h`` pitched down by
``pitch``, with building facades (vertical planes along the street), a far backdrop, and objects placed in 3D:
axis-aligned boxes (cars, trucks, buses, trams, poles, signs, walls, fences, bicycles, motorcycles, people's
bodies) and spheres (heads, tree crowns). Every pixel's ray is intersected analytically with every surface and a
z-buffer keeps the nearest hit, so depth, scale and occlusion are geometrically consistent. Vehicles and bicycles
mostly drive along the street (seen from behind) and sometimes cross it or are parked across the kerb (seen from
the side, where bicycle wheels are thin rings).

Conventions (world frame): x right, y **down**, z forward; the camera sits at the origin, the ground is the plane
``y = h``. A camera ray through pixel (u, v) has camera direction ``((u - cx)/f, (v - cy)/f, 1)``; rotated into the
world by the pitch it is ``d = (a, b cos p + sin p, cos p - b sin p)``. Because the camera-z component of the
camera direction is 1, the ray parameter ``t`` at a hit is the **metric z-depth** (the quantity Cityscapes and
KITTI depth maps store). Labels are Cityscapes train ids (0..18, 255 void); depth is 0 where invalid (sky, the
ego-vehicle hood).

Why hand-written: no library renders labelled, metric-depth street scenes at 20+ scenes/s on one CPU core; the
ray/plane and ray/box (slab method) intersections below are a few broadcasted numpy expressions, because the ray
direction factorises into a column part (``a``) and a row part (``dy``, ``dz``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

CITYSCAPES_CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
)
VOID = 255
C = {name: i for i, name in enumerate(CITYSCAPES_CLASSES)}
# The official Cityscapes colours for the 19 train ids (cityscapesscripts/helpers/labels.py).
CITYSCAPES_PALETTE = np.array([
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
    (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
    (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
], dtype=np.uint8)

# Classes an object crop of `synth-objects` can show (label = index in this tuple).
OBJECT_CLASSES = ("person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
                  "traffic light", "traffic sign")

_LAYER_SKY, _LAYER_GROUND, _LAYER_FACADE, _LAYER_BACK, _LAYER_OBJECT = 0, 1, 2, 3, 4


@lru_cache(maxsize=1)
def textures() -> dict[str, np.ndarray]:
    """scikit-image's bundled brick, grass and gravel images as zero-mean float32 modulations (512x512),
    plus a smooth procedural noise tile (fixed seed)."""
    from scipy.ndimage import gaussian_filter
    from skimage import data

    out = {}
    for name in ("brick", "grass", "gravel"):
        t = getattr(data, name)().astype(np.float32) / 255.0
        out[name] = (t - t.mean()) / (t.std() + 1e-6)
    rng = np.random.default_rng(12345)
    noise = sum(gaussian_filter(rng.standard_normal((256, 256)), s, mode="wrap") * s for s in (1, 3, 8))
    out["noise"] = ((noise - noise.mean()) / noise.std()).astype(np.float32)
    return out


@lru_cache(maxsize=1)
def _noise_tile() -> np.ndarray:
    return np.random.default_rng(54321).standard_normal((768, 1280, 3), dtype=np.float32)


def _sensor_noise(rng: np.random.Generator, shape) -> np.ndarray:
    """Unit Gaussian noise: a random window of a fixed noise tile (drawing fresh normals costs ~5 ms/scene)."""
    tile = _noise_tile()
    H, W, _ = shape
    if H <= tile.shape[0] and W <= tile.shape[1]:
        y0 = int(rng.integers(tile.shape[0] - H + 1))
        x0 = int(rng.integers(tile.shape[1] - W + 1))
        return tile[y0:y0 + H, x0:x0 + W]
    return rng.standard_normal(shape, dtype=np.float32)


class Camera:
    """Pinhole camera at the origin, pitched down by ``pitch`` radians, ``height`` metres above the ground."""

    def __init__(self, H: int, W: int, f: float, cx: float, cy: float, height: float, pitch: float):
        self.H, self.W, self.f, self.cx, self.cy, self.height, self.pitch = H, W, f, cx, cy, height, pitch
        self.sp, self.cp = np.sin(pitch), np.cos(pitch)
        a = (np.arange(W) + 0.5 - cx) / f
        b = (np.arange(H) + 0.5 - cy) / f
        a[a == 0] = 1e-9  # keep every division finite-signed
        self.a = a.astype(np.float64)                     # (W,) world x of the ray direction
        self.dy = b * self.cp + self.sp                    # (H,) world y
        self.dz = self.cp - b * self.sp                    # (H,) world z
        self.dy[self.dy == 0] = 1e-9

    def project(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World points (..., 3) -> pixel u, v and camera z-depth."""
        x, y, z = p[..., 0], p[..., 1], p[..., 2]
        zc = y * self.sp + z * self.cp
        yc = y * self.cp - z * self.sp
        return self.f * x / zc + self.cx, self.f * yc / zc + self.cy, zc

    def as_dict(self) -> dict:
        return {"fx": float(self.f), "fy": float(self.f), "cx": float(self.cx), "cy": float(self.cy),
                "height_m": float(self.height), "pitch_rad": float(self.pitch)}


class Canvas:
    """Z-buffer and per-pixel attribute buffers (H x W)."""

    def __init__(self, cam: Camera):
        H, W = cam.H, cam.W
        self.cam = cam
        self.zbuf = np.full((H, W), np.inf)
        self.label = np.full((H, W), C["sky"], dtype=np.uint8)
        self.layer = np.zeros((H, W), dtype=np.uint8)
        self.inst = np.zeros((H, W), dtype=np.int32)      # object instance id (0 = none)
        self.shade = np.ones((H, W), dtype=np.float32)
        self.s = np.zeros((H, W), dtype=np.float32)       # texture coordinates (metres) of background layers
        self.t = np.zeros((H, W), dtype=np.float32)
        self.seg = np.zeros((H, W), dtype=np.int16)       # facade segment index (for its tint)
        self.n_inst = 0
        self.colors = [np.zeros(3, np.float32)]           # colour per instance id
        self.inst_class = [VOID]

    def new_instance(self, cls: int, color) -> int:
        self.n_inst += 1
        self.colors.append(np.asarray(color, np.float32))
        self.inst_class.append(cls)
        return self.n_inst

    # -- primitives -------------------------------------------------------------------------------------
    def _rays(self, u0: int, u1: int, v0: int, v1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ray direction components of the pixel window [v0:v1, u0:u1]: x (1, w), y and z (h, 1)."""
        cam = self.cam
        return cam.a[u0:u1][None, :], cam.dy[v0:v1][:, None], cam.dz[v0:v1][:, None]

    def _bbox(self, pts: np.ndarray, margin: float = 1.0):
        u, v, zc = self.cam.project(pts)
        if np.any(zc < 0.3):
            return None
        u0 = max(0, int(np.floor(u.min() - margin)))
        u1 = min(self.cam.W, int(np.ceil(u.max() + margin)) + 1)
        v0 = max(0, int(np.floor(v.min() - margin)))
        v1 = min(self.cam.H, int(np.ceil(v.max() + margin)) + 1)
        if u0 >= u1 or v0 >= v1:
            return None
        return u0, u1, v0, v1

    def box(self, lo, hi, cls: int, inst: int, pattern=None, shades=(0.72, 1.05, 0.9)) -> None:
        """Ray/box intersection by the slab method over the box's screen bounding box.

        ``lo``, ``hi``: world corners (x, y, z) with lo < hi. ``pattern(X, Y, Z, face) -> (keep, shade_mul)``
        can punch holes (fences, bicycle wheels) or darken parts (windows); ``face`` is 0/1/2 for x/y/z faces.
        """
        lo = np.asarray(lo, float)
        hi = np.asarray(hi, float)
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        bb = self._bbox(corners)
        if bb is None:
            return
        u0, u1, v0, v1 = bb
        a, dy, dz = self._rays(u0, u1, v0, v1)
        tx0, tx1 = lo[0] / a, hi[0] / a
        ty0, ty1 = lo[1] / dy, hi[1] / dy
        tz0, tz1 = lo[2] / dz, hi[2] / dz
        txn, txf = np.minimum(tx0, tx1), np.maximum(tx0, tx1)
        tyn, tyf = np.minimum(ty0, ty1), np.maximum(ty0, ty1)
        tzn, tzf = np.minimum(tz0, tz1), np.maximum(tz0, tz1)
        tn = np.maximum(np.maximum(txn, tyn), tzn)
        tf = np.minimum(np.minimum(txf, tyf), tzf)
        zb = self.zbuf[v0:v1, u0:u1]
        vis = (tn <= tf) & (tn > 0) & (tn < zb)
        if not vis.any():
            return
        face = np.where(tn == txn, 0, np.where(tn == tyn, 1, 2))
        shade = np.asarray(shades, np.float32)[face]
        if pattern is not None:
            keep, mul = pattern(tn * a, tn * dy, tn * dz, face)
            vis &= keep
            shade = shade * mul
        self._write(vis, tn, cls, inst, shade, u0, u1, v0, v1)

    def sphere(self, center, r: float, cls: int, inst: int, rng=None, rough: float = 0.0) -> None:
        """Ray/sphere intersection; ``rough`` > 0 frays the silhouette with the noise tile (tree crowns)."""
        c = np.asarray(center, float)
        u, v, zc = self.cam.project(c)
        if zc < r + 0.3:
            return
        rad = self.cam.f * r / (zc - r) * 1.1 + 1
        bb = self._bbox(np.array([[c[0], c[1], c[2]]]), margin=rad)
        if bb is None:
            return
        u0, u1, v0, v1 = bb
        a, dy, dz = self._rays(u0, u1, v0, v1)
        dd = a * a + dy * dy + dz * dz
        bdot = a * c[0] + dy * c[1] + dz * c[2]
        disc = bdot * bdot - dd * (c @ c - r * r)
        hit = disc > 0
        tn = (bdot - np.sqrt(np.where(hit, disc, 0))) / dd
        if rough > 0:
            nz = textures()["noise"]
            ys, xs = np.mgrid[v0:v1, u0:u1]
            frac = disc / (bdot * bdot + 1e-9)
            hit &= frac > rough * (0.5 + 0.5 * nz[ys % 256, xs % 256]) * (r * r / (c @ c))
        zb = self.zbuf[v0:v1, u0:u1]
        vis = hit & (tn > 0) & (tn < zb)
        if not vis.any():
            return
        # Lambert-like shading from the hit normal's vertical component (lit from above).
        ny = (tn * dy - c[1]) / r
        shade = (0.95 - 0.3 * ny).astype(np.float32)
        self._write(vis, tn, cls, inst, shade, u0, u1, v0, v1)

    def _write(self, vis, tn, cls, inst, shade, u0, u1, v0, v1):
        sl = (slice(v0, v1), slice(u0, u1))
        self.zbuf[sl][vis] = tn[vis]
        self.label[sl][vis] = cls
        self.inst[sl][vis] = inst
        self.layer[sl][vis] = _LAYER_OBJECT
        self.shade[sl][vis] = np.broadcast_to(shade, vis.shape)[vis]


# ---------------------------------------------------------------------------------------------------------
# patterns on box faces (hit coordinates X, Y, Z in world metres)
def _fence_pattern(x0, z0, ground, height, spacing, along_z):
    def pat(X, Y, Z, face):
        s = (Z - z0) if along_z else (X - x0)
        hgt = ground - Y
        post = np.mod(s, spacing) < 0.07
        rails = (np.abs(hgt - 0.15) < 0.04) | (np.abs(hgt - height * 0.55) < 0.035) | (hgt > height - 0.06)
        mesh = (np.mod(s + hgt, 0.5) < 0.025) | (np.mod(s - hgt, 0.5) < 0.025)
        return post | rails | mesh, 1.0
    return pat


def _bicycle_pattern(z0, length, ground, wheel_r):
    centers = (z0 + wheel_r + 0.05, z0 + length - wheel_r - 0.05)

    def pat(X, Y, Z, face):
        hgt = ground - Y
        keep = np.zeros(np.broadcast(X, Y, Z).shape, bool)
        for zc in centers:
            r = np.sqrt((Z - zc) ** 2 + (hgt - wheel_r) ** 2)
            keep |= np.abs(r - wheel_r * 0.9) < 0.06
        frame = (np.abs(hgt - wheel_r * 1.9) < 0.05) & (Z > centers[0]) & (Z < centers[1])
        diag = np.abs((hgt - wheel_r) - (Z - centers[0]) * 0.9) < 0.05
        diag &= (Z > centers[0]) & (hgt < wheel_r * 2.0)
        keep |= frame | diag | (face == 2)
        return keep, 1.0
    return pat


def _window_band(ground, lo_h, hi_h, period=None):
    def pat(X, Y, Z, face):
        hgt = ground - Y
        band = (hgt > lo_h) & (hgt < hi_h) & (face != 1)
        if period is not None:
            band &= np.mod(Z, period) > 0.15
        return np.ones(band.shape, bool), np.where(band, 0.35, 1.0).astype(np.float32)
    return pat


def _disk_pattern(cx, cyy, r):
    def pat(X, Y, Z, face):
        return (X - cx) ** 2 + (Y - cyy) ** 2 < r * r, 1.0
    return pat


# ---------------------------------------------------------------------------------------------------------
def _paint_background(cv: Canvas, rng: np.random.Generator, layout: dict) -> None:
    cam = cv.cam
    h = cam.height
    a = cam.a[None, :]
    dy = cam.dy[:, None]
    dz = cam.dz[:, None]
    # Ground plane y = h: depth depends on the row only.
    tg = np.where(dy > 0, h / dy, np.inf)                                    # (H,1)
    X = tg * a
    Z = tg * dz
    gl = np.isfinite(tg) & (tg < 1e4) & np.ones_like(a, bool)
    lab = np.full(X.shape, C["terrain"], np.uint8)
    xl, xr = layout["road"]
    lab[(X >= xl - layout["sw"][0]) & (X <= xr + layout["sw"][1])] = C["sidewalk"]
    lab[(X >= xl) & (X <= xr)] = C["road"]
    cv.zbuf = np.where(gl, np.broadcast_to(tg, gl.shape), np.inf)
    cv.label = np.where(gl, lab, cv.label).astype(np.uint8)
    cv.layer[gl] = _LAYER_GROUND
    Xb = np.broadcast_to(X, gl.shape)
    Zb = np.broadcast_to(Z, gl.shape)
    cv.s = np.where(gl, Xb, 0).astype(np.float32)
    cv.t = np.where(gl, Zb, 0).astype(np.float32)
    # Facades: vertical planes x = xf; depth depends on the column only, and only the columns whose rays head
    # towards that side (a * xf > 0) can hit it, so work on that column window.
    for side, xf in (("left", layout["facade"][0]), ("right", layout["facade"][1])):
        bounds, heights, kinds = layout["segments"][side]
        cols = np.nonzero(cam.a * xf > 0)[0]
        if cols.size == 0:
            continue
        win = (slice(None), slice(int(cols[0]), int(cols[-1]) + 1))
        tf = xf / a[win]                                                        # (1,w)
        Yf = tf * dy
        Zf = tf * dz
        k = np.clip(np.searchsorted(bounds, Zf) - 1, 0, len(heights) - 1)
        hit = (Yf <= h) & (Yf >= h - heights[k]) & (Zf > 0) & (Zf < bounds[-1]) & (kinds[k] >= 0)
        hit &= tf < cv.zbuf[win]
        if not hit.any():
            continue
        cv.zbuf[win][hit] = np.broadcast_to(tf, hit.shape)[hit]
        cv.label[win][hit] = kinds[k][hit]
        cv.layer[win][hit] = _LAYER_FACADE
        cv.s[win][hit] = Zf[hit]
        cv.t[win][hit] = (h - Yf)[hit]
        cv.seg[win][hit] = (k + (0 if side == "left" else 100))[hit]
        cv.shade[win][hit] = 0.8 if side == "left" else 1.0
    # Backdrop: plane z = zb with a skyline; depth and height depend on the row only, so only the rows whose
    # height above the ground lies within the skyline's range are computed.
    zback = layout["back_z"]
    xb_bounds, xb_heights, xb_kinds = layout["backdrop"]
    tb1 = zback / cam.dz                                                        # (H,)
    Y1 = tb1 * cam.dy
    rows = np.nonzero((tb1 > 0) & (Y1 <= h) & (Y1 >= h - xb_heights.max()))[0]
    if rows.size:
        win = (slice(int(rows[0]), int(rows[-1]) + 1), slice(None))
        tb = tb1[win[0]][:, None]
        Xk = tb * a
        Yk = Y1[win[0]][:, None]
        k = np.clip(np.searchsorted(xb_bounds, Xk) - 1, 0, len(xb_heights) - 1)
        hit = (Yk <= h) & (Yk >= h - xb_heights[k]) & (tb < cv.zbuf[win])
        if hit.any():
            cv.zbuf[win][hit] = np.broadcast_to(tb, hit.shape)[hit]
            cv.label[win][hit] = xb_kinds[k][hit]
            cv.layer[win][hit] = _LAYER_BACK
            cv.s[win][hit] = Xk[hit]
            cv.t[win][hit] = np.broadcast_to(h - Yk, hit.shape)[hit]
            cv.seg[win][hit] = (k + 200)[hit]
            cv.shade[win][hit] = 0.9


def _segments(rng, z_end, p_kinds):
    """Random consecutive segments along one axis: boundaries, heights and class (-1 = gap)."""
    bounds = [float(rng.uniform(-5, 4))]
    heights, kinds = [], []
    names = list(p_kinds)
    probs = np.array([p_kinds[n] for n in names])
    while bounds[-1] < z_end:
        bounds.append(bounds[-1] + float(rng.uniform(6, 28)))
        kind = names[rng.choice(len(names), p=probs / probs.sum())]
        kinds.append(-1 if kind == "gap" else C[kind])
        heights.append({"building": rng.uniform(7, 28), "vegetation": rng.uniform(2, 9),
                        "wall": rng.uniform(1.0, 2.8), "gap": 0.0}[kind])
    return np.array(bounds), np.array(heights), np.array(kinds)


def _sample_layout(rng: np.random.Generator, W: int) -> dict:
    xl, xr = -rng.uniform(2.5, 8.0), rng.uniform(2.5, 8.0)
    sw = (rng.uniform(1.5, 4.5), rng.uniform(1.5, 4.5))
    ter = tuple(0.0 if rng.random() < 0.5 else rng.uniform(1.0, 6.0) for _ in range(2))
    facade = (xl - sw[0] - ter[0], xr + sw[1] + ter[1])
    back_z = rng.uniform(60, 160)
    pk = {"building": 0.66, "vegetation": 0.16, "wall": 0.06, "gap": 0.12}
    segs = {side: _segments(rng, back_z, pk) for side in ("left", "right")}
    xb = [-400.0]
    hs, ks = [], []
    while xb[-1] < 400:
        xb.append(xb[-1] + rng.uniform(10, 45))
        veg = rng.random() < 0.25
        ks.append(C["vegetation"] if veg else C["building"])
        hs.append(rng.uniform(5, 15) if veg else rng.uniform(6, 45))
    return {"road": (xl, xr), "sw": sw, "terrain": ter, "facade": facade, "back_z": back_z,
            "segments": segs, "backdrop": (np.array(xb), np.array(hs), np.array(ks))}


_CAR_COLORS = np.array([(0.75, 0.75, 0.78), (0.1, 0.1, 0.12), (0.55, 0.08, 0.08), (0.12, 0.2, 0.45),
                        (0.5, 0.5, 0.52), (0.9, 0.9, 0.88), (0.2, 0.35, 0.25), (0.6, 0.5, 0.3)], np.float32)


def _jitter(rng, col, s=0.06):
    return np.clip(np.asarray(col, np.float32) + rng.normal(0, s, 3).astype(np.float32), 0.02, 1.0)


class _Crossing:
    """A Canvas proxy that lays out an object built along z (driving away from the camera) along x instead
    (crossing traffic, bicycles parked across the kerb): x and z offsets from the pivot (px, pz) are swapped, for
    boxes, spheres and the coordinates handed to face patterns (a mirror image; the objects are symmetric)."""

    def __init__(self, cv: Canvas, px: float, pz: float):
        self.cv, self.px, self.pz = cv, px, pz

    def new_instance(self, cls, color):
        return self.cv.new_instance(cls, color)

    def _map(self, p):
        x, y, z = p
        return (self.px + (z - self.pz), y, self.pz + (x - self.px))

    def box(self, lo, hi, cls, inst, pattern=None, shades=(0.72, 1.05, 0.9)):
        a, b = np.array(self._map(lo)), np.array(self._map(hi))
        pat = None
        if pattern is not None:
            def pat(X, Y, Z, face):
                return pattern(self.px + (Z - self.pz), Y, self.pz + (X - self.px), np.where(face == 1, 1, 2 - face))
        self.cv.box(np.minimum(a, b), np.maximum(a, b), cls, inst, pattern=pat, shades=shades)

    def sphere(self, center, r, cls, inst, rng=None, rough=0.0):
        self.cv.sphere(self._map(center), r, cls, inst, rng=rng, rough=rough)


def _orient(cv, rng, x, z, p_cross):
    """``cv`` itself (object along z) or, with probability ``p_cross``, a crossing proxy pivoting at (x, z)."""
    return _Crossing(cv, x, z) if rng.random() < p_cross else cv


# -- object builders (each adds one instance; x = lateral centre, z = near end, g = ground y) ---------------
def _add_car(cv, rng, x, z, g):
    w, L, H = rng.uniform(1.65, 1.95), rng.uniform(3.8, 4.9), rng.uniform(1.35, 1.6)
    i = cv.new_instance(C["car"], _CAR_COLORS[rng.integers(len(_CAR_COLORS))])
    cv.box((x - w / 2, g - 1.0, z), (x + w / 2, g - 0.28, z + L), C["car"], i)
    cv.box((x - w / 2 + 0.1, g - H, z + 0.25 * L), (x + w / 2 - 0.1, g - 1.0, z + 0.8 * L), C["car"], i,
           pattern=_window_band(g, 1.02, H - 0.05))
    for zz in (z + 0.15 * L, z + 0.85 * L - 0.6):
        for xx in (x - w / 2, x + w / 2 - 0.22):
            cv.box((xx, g - 0.62, zz), (xx + 0.22, g, zz + 0.6), C["car"], i, shades=(0.15, 0.2, 0.15))
    return i


def _add_truck(cv, rng, x, z, g):
    w, L = rng.uniform(2.3, 2.55), rng.uniform(6, 10)
    i = cv.new_instance(C["truck"], _jitter(rng, (0.85, 0.85, 0.8), 0.12))
    cv.box((x - w / 2, g - rng.uniform(3.2, 3.9), z), (x + w / 2, g - 0.5, z + L), C["truck"], i)
    cv.box((x - w / 2 + 0.05, g - 2.9, z + L), (x + w / 2 - 0.05, g - 0.5, z + L + 2.2), C["truck"], i,
           pattern=_window_band(g, 1.9, 2.8))
    for zz in (z + 0.5, z + L + 1.2):
        cv.box((x - w / 2, g - 1.0, zz), (x + w / 2, g, zz + 1.0), C["truck"], i, shades=(0.15, 0.2, 0.15))
    return i


def _add_bus(cv, rng, x, z, g, cls="bus"):
    w = rng.uniform(2.5, 2.65)
    L = rng.uniform(11, 13) if cls == "bus" else rng.uniform(20, 36)
    H = rng.uniform(3.0, 3.4) if cls == "bus" else rng.uniform(3.4, 3.8)
    col = (0.8, 0.7, 0.1) if cls == "bus" else (0.85, 0.85, 0.85)
    i = cv.new_instance(C[cls], _jitter(rng, col, 0.1))
    cv.box((x - w / 2, g - H, z), (x + w / 2, g - 0.3, z + L), C[cls], i,
           pattern=_window_band(g, 1.3, H - 0.5, period=1.6))
    return i


def _add_person(cv, rng, x, z, g, cls=C["person"], base=0.0):
    s = rng.uniform(0.85, 1.1)
    i = cv.new_instance(cls, _jitter(rng, rng.uniform(0.1, 0.8, 3), 0.0))
    top = g - base
    if base == 0:
        cv.box((x - 0.17 * s, top - 0.85 * s, z), (x + 0.17 * s, top, z + 0.25), cls, i)
    cv.box((x - 0.22 * s, top - 1.5 * s, z - 0.02), (x + 0.22 * s, top - 0.83 * s, z + 0.28), cls, i)
    cv.sphere((x, top - 1.64 * s, z + 0.12), 0.12 * s, cls, i)
    return i


def _add_bike(cv, rng, x, z, g, motor=False, rider=True):
    cls = C["motorcycle"] if motor else C["bicycle"]
    L = rng.uniform(1.9, 2.2) if motor else rng.uniform(1.6, 1.8)
    i = cv.new_instance(cls, _jitter(rng, (0.15, 0.15, 0.18) if motor else rng.uniform(0.1, 0.9, 3), 0.05))
    if motor:
        cv.box((x - 0.35, g - 1.05, z + 0.2), (x + 0.35, g - 0.3, z + L - 0.2), cls, i)
        for zz in (z, z + L - 0.6):
            cv.box((x - 0.1, g - 0.6, zz), (x + 0.1, g, zz + 0.6), cls, i, shades=(0.2, 0.2, 0.2))
    else:
        cv.box((x - 0.06, g - 1.0, z), (x + 0.06, g, z + L), cls, i, pattern=_bicycle_pattern(z, L, g, 0.34))
        cv.box((x - 0.28, g - 1.05, z + L - 0.45), (x + 0.28, g - 0.98, z + L - 0.38), cls, i)
    r = None
    if rider:
        r = _add_person(cv, rng, x, z + L * 0.45, g, cls=C["rider"], base=0.55 if not motor else 0.5)
        cv.box((x - 0.2, g - 0.95, z + L * 0.3), (x + 0.2, g - 0.35, z + L * 0.55), C["rider"], r)
    return i, r


def _add_pole(cv, rng, x, z, g, kind, height=(3.5, 9.0)):
    w = rng.uniform(0.08, 0.3)
    H = rng.uniform(*height)
    i = cv.new_instance(C["pole"], _jitter(rng, (0.45, 0.45, 0.47), 0.05))
    cv.box((x - w / 2, g - H, z), (x + w / 2, g, z + w), C["pole"], i)
    out = i
    if kind == "light":
        j = cv.new_instance(C["traffic light"], (0.1, 0.1, 0.1))
        hy = g - H + rng.uniform(0, 1.0)
        cv.box((x - 0.16, hy, z - 0.35), (x + 0.16, hy + 0.9, z - 0.05), C["traffic light"], j)
        lamp = int(rng.integers(3))
        k = cv.new_instance(C["traffic light"], [(1, 0.1, 0.05), (1, 0.75, 0.05), (0.1, 1, 0.3)][lamp])
        ly = hy + 0.08 + 0.28 * lamp
        cv.box((x - 0.09, ly, z - 0.38), (x + 0.09, ly + 0.18, z - 0.35), C["traffic light"], k,
               shades=(1.2, 1.2, 1.2))
        out = j
    elif kind == "sign":
        j = cv.new_instance(C["traffic sign"], [(0.1, 0.25, 0.7), (0.8, 0.1, 0.1), (0.95, 0.95, 0.95),
                                                (0.95, 0.8, 0.1)][rng.integers(4)])
        sw = rng.uniform(0.5, 0.9)
        sy = g - H + rng.uniform(0, 0.5)
        disk = rng.random() < 0.5
        cv.box((x - sw / 2, sy, z - 0.06), (x + sw / 2, sy + sw, z - 0.02), C["traffic sign"], j,
               pattern=_disk_pattern(x, sy + sw / 2, sw / 2) if disk else None)
        out = j
    return out


def _add_tree(cv, rng, x, z, g):
    i = cv.new_instance(C["vegetation"], _jitter(rng, (0.2, 0.35, 0.12), 0.05))
    th = rng.uniform(2.0, 4.0)
    cv.box((x - 0.14, g - th, z), (x + 0.14, g, z + 0.28), C["vegetation"], i)
    r = rng.uniform(1.2, 3.2)
    cv.sphere((x, g - th - r * 0.7, z + 0.14), r, C["vegetation"], i, rough=0.35)
    return i


def render_street(rng: np.random.Generator, size=(256, 512), focus: str | None = None) -> dict:
    """Render one scene. Returns numpy arrays: ``image`` (H,W,3 float32 0..1), ``mask`` (H,W uint8 train ids,
    255 void), ``depth`` (H,W float32 metres, 0 invalid), ``instances`` (H,W int32), the camera dict, and
    ``focus_instance`` (the instance id of the object of class ``focus`` placed in front of the camera)."""
    H, W = size
    cam = Camera(H, W, f=W * rng.uniform(0.7, 1.15), cx=W / 2 + rng.uniform(-0.02, 0.02) * W,
                 cy=H / 2 + rng.uniform(-0.04, 0.04) * H, height=rng.uniform(1.2, 1.8),
                 pitch=rng.uniform(-0.02, 0.06))
    cv = Canvas(cam)
    lay = _sample_layout(rng, W)
    _paint_background(cv, rng, lay)
    g = cam.height
    xl, xr = lay["road"]
    swl, swr = lay["sw"]

    def side_x(edge_off=0.3):
        if rng.random() < 0.5:
            return xl - rng.uniform(edge_off, swl - 0.2)
        return xr + rng.uniform(edge_off, swr - 0.2)

    focus_inst = 0
    if focus is not None:
        z = rng.uniform(6, 12)
        if focus in ("car", "truck", "bus", "train", "motorcycle", "bicycle", "rider"):
            x = rng.uniform(xl + 1.5, xr - 1.5) if xr - xl > 3.5 else (xl + xr) / 2
        else:
            x = side_x()
            # far enough to be inside the field of view: |x| within 45% of the half-width, and (signs,
            # lights) the top of a pole of at most 5.5 m within 40% of the half-height
            z = max(z, (abs(x) + 0.5) * cam.f / (0.45 * W))
            if focus in ("traffic light", "traffic sign"):
                z = max(z, (5.5 - g) * cam.f / (0.4 * H))
        fcv = _orient(cv, rng, x, z, 0.5)  # half the crops show the object from the side
        if focus == "car":
            focus_inst = _add_car(fcv, rng, x, z, g)
        elif focus == "truck":
            focus_inst = _add_truck(fcv, rng, x, z + 2, g)
        elif focus in ("bus", "train"):
            focus_inst = _add_bus(fcv, rng, x, z + 4, g, cls=focus)
        elif focus == "person":
            focus_inst = _add_person(cv, rng, x, z - 2, g, cls=C["person"])
        elif focus in ("bicycle", "motorcycle", "rider"):
            b, r = _add_bike(fcv, rng, x, z - 2, g, motor=(focus == "motorcycle" or (focus == "rider"
                                                                                   and rng.random() < 0.4)),
                             rider=(focus == "rider"))
            focus_inst = r if focus == "rider" else b
        elif focus in ("traffic light", "traffic sign"):
            focus_inst = _add_pole(cv, rng, x, z, g, "light" if focus == "traffic light" else "sign",
                                   height=(3.5, 5.5))
        else:
            raise ValueError(f"focus class {focus!r} not in {OBJECT_CLASSES}")

    # Vehicles on the road, near to far placement order does not matter (z-buffer).
    lanes = np.arange(xl + 1.6, xr - 1.0, 3.2)
    if len(lanes) == 0:
        lanes = np.array([(xl + xr) / 2])
    for _ in range(rng.poisson(3.0)):
        _add_car(cv, rng, rng.choice(lanes) + rng.uniform(-0.4, 0.4), rng.uniform(5, 70), g)
    for _ in range(rng.binomial(2, 0.2)):  # crossing the street
        z = rng.uniform(8, 45)
        _add_car(_Crossing(cv, rng.uniform(xl - 3, xr - 1), z), rng, rng.uniform(xl - 3, xr - 1), z, g)
    for _ in range(rng.poisson(1.5)):  # parked at the kerb
        x = xl + 1.05 if rng.random() < 0.5 else xr - 1.05
        _add_car(cv, rng, x, rng.uniform(4, 45), g)
    if rng.random() < 0.3:
        x, z = rng.choice(lanes), rng.uniform(8, 60)
        _add_truck(_orient(cv, rng, x, z, 0.1), rng, x, z, g)
    if rng.random() < 0.3:
        x, z = rng.choice(lanes), rng.uniform(10, 60)
        _add_bus(_orient(cv, rng, x, z, 0.1), rng, x, z, g)
    if rng.random() < 0.15:
        _add_bus(cv, rng, (xl + xr) / 2 + rng.uniform(-1, 1), rng.uniform(12, 50), g, cls="train")
    for _ in range(rng.binomial(2, 0.3)):
        x, z = rng.choice([xl + 0.6, xr - 0.6]), rng.uniform(5, 40)
        _add_bike(_orient(cv, rng, x, z, 0.25), rng, x, z, g, motor=True, rider=rng.random() < 0.85)
    for _ in range(rng.binomial(3, 0.35)):
        rider = rng.random() < 0.6
        x, z = (rng.choice([xl + 0.5, xr - 0.5]) if rider else side_x()), rng.uniform(4, 35)
        _add_bike(_orient(cv, rng, x, z, 0.25 if rider else 0.5), rng, x, z, g, rider=rider)
    for _ in range(rng.poisson(3.5)):
        _add_person(cv, rng, side_x(), rng.uniform(3, 50), g, cls=C["person"])
    if rng.random() < 0.25:
        for _ in range(rng.integers(1, 4)):
            _add_person(cv, rng, rng.uniform(xl, xr), rng.uniform(6, 25), g, cls=C["person"])
    # Street furniture along the kerbs.
    for _ in range(rng.poisson(4.0) + 1):
        x = (xl - 0.35) if rng.random() < 0.5 else (xr + 0.35)
        kind = rng.choice(["plain", "light", "sign"], p=[0.45, 0.25, 0.3])
        _add_pole(cv, rng, x, rng.uniform(4, 60), g, kind)
    for _ in range(rng.poisson(1.5)):
        _add_tree(cv, rng, side_x(0.6), rng.uniform(5, 60), g)
    # Fences and walls between sidewalk and facade (thin along z).
    for side in (0, 1):
        if rng.random() < 0.45:
            z0 = rng.uniform(3, 40)
            L = rng.uniform(5, 30)
            x = (lay["facade"][0] + 0.4) if side == 0 else (lay["facade"][1] - 0.4)
            if lay["terrain"][side] > 0 and rng.random() < 0.5:
                x = (xl - swl - 0.1) if side == 0 else (xr + swr + 0.1)
            fh = rng.uniform(1.0, 2.0)
            i = cv.new_instance(C["fence"], _jitter(rng, (0.55, 0.5, 0.45), 0.08))
            cv.box((x - 0.03, g - fh, z0), (x + 0.03, g, z0 + L), C["fence"], i,
                   pattern=_fence_pattern(x, z0, g, fh, rng.uniform(1.5, 3.0), along_z=True))
        if rng.random() < 0.3:
            z0 = rng.uniform(3, 40)
            L = rng.uniform(4, 20)
            x = (lay["facade"][0] + 0.3) if side == 0 else (lay["facade"][1] - 0.3)
            i = cv.new_instance(C["wall"], _jitter(rng, (0.6, 0.58, 0.55), 0.08))
            cv.box((x - 0.15, g - rng.uniform(0.8, 2.5), z0), (x + 0.15, g, z0 + L), C["wall"], i)
    # Void clutter (bins, boxes): Cityscapes' "static"/"dynamic" objects are void.
    for _ in range(rng.poisson(0.8)):
        x, z = side_x(), rng.uniform(4, 40)
        i = cv.new_instance(VOID, _jitter(rng, (0.3, 0.3, 0.3), 0.15))
        w = rng.uniform(0.4, 1.0)
        cv.box((x - w / 2, g - rng.uniform(0.6, 1.2), z), (x + w / 2, g, z + w), VOID, i)

    image = _shade(cv, rng, lay)
    depth = np.where(np.isfinite(cv.zbuf) & (cv.layer != _LAYER_SKY), cv.zbuf, 0.0).astype(np.float32)
    label = cv.label
    # Ego-vehicle hood: void, depth invalid (as in Cityscapes, where the disparity there is unusable).
    if rng.random() < 0.3:
        vv, uu = np.mgrid[0:H, 0:W]
        top = H * (1 - rng.uniform(0.05, 0.12))
        hood = vv > top + (H - top) * 0.8 * ((uu - W / 2) / (W * 0.7)) ** 2 * 4
        label = np.where(hood, VOID, label).astype(np.uint8)
        depth[hood] = 0.0
        image[hood] = _jitter(rng, (0.08, 0.08, 0.1), 0.03)
    return {"image": image, "mask": label, "depth": depth, "instances": cv.inst, "camera": cam.as_dict(),
            "focus_instance": focus_inst}


# Background materials: (texture, amplitude, texels per metre, base colour); index = material id.
_MATERIALS = (
    ("gravel", 0.08, 60, (0.33, 0.33, 0.35)),   # 0 road
    ("brick", 0.12, 80, (0.6, 0.56, 0.52)),     # 1 sidewalk
    ("grass", 0.18, 90, (0.35, 0.45, 0.2)),     # 2 terrain
    ("brick", 0.10, 70, (0.6, 0.6, 0.6)),       # 3 building (tinted per facade segment)
    ("grass", 0.30, 50, (0.2, 0.33, 0.12)),     # 4 vegetation (facade hedges, backdrop trees)
    ("gravel", 0.10, 50, (0.55, 0.53, 0.5)),    # 5 wall
)
_TEX_NAMES = ("gravel", "brick", "grass")


@lru_cache(maxsize=1)
def _material_tables():
    tx = textures()
    stack = np.stack([tx[n] for n in _TEX_NAMES]).astype(np.float32)
    tex_id = np.array([_TEX_NAMES.index(m[0]) for m in _MATERIALS], np.intp)
    amp = np.array([m[1] for m in _MATERIALS], np.float32)
    scale = np.array([m[2] for m in _MATERIALS], np.float32)
    # (layer, label) -> material; ground layer uses road/sidewalk/terrain, facade/backdrop layers the others.
    lut = np.zeros((5, 256), np.intp)
    lut[_LAYER_GROUND, C["sidewalk"]] = 1
    lut[_LAYER_GROUND, C["terrain"]] = 2
    for layer in (_LAYER_FACADE, _LAYER_BACK):
        lut[layer, :] = 3
        lut[layer, C["vegetation"]] = 4
        lut[layer, C["wall"]] = 5
    return stack, tex_id, amp, scale, lut


def _shade(cv: Canvas, rng: np.random.Generator, lay: dict) -> np.ndarray:
    """Colours from layer, class, texture, shading; then distance haze and sensor noise.

    Background pixels (ground, facades, backdrop) look up a material per (layer, label) and sample its texture
    at world coordinates (s, t) in metres, so textures shrink with distance as they should. Computed on the
    whole image with lookup tables (cheaper than boolean gathers per class)."""
    tx = textures()
    H, W = cv.label.shape
    stack, tex_id, amp, scale, lut = _material_tables()
    mat = lut[cv.layer, cv.label]
    base = np.array([_jitter(rng, m[3], 0.04) for m in _MATERIALS], np.float32)
    tint = np.random.default_rng(rng.integers(2**31)).uniform(0.35, 0.85, (300, 3)).astype(np.float32)
    tint = 0.5 * tint + 0.5 * tint.mean(1, keepdims=True)
    colors = np.concatenate([base, tint, np.stack(cv.colors).astype(np.float32)])
    # colour index: material base, facade segment tint for buildings, instance colour for objects
    cidx = np.where(mat == 3, len(base) + cv.seg, mat)
    obj = cv.layer == _LAYER_OBJECT
    cidx = np.where(obj, len(base) + len(tint) + cv.inst, cidx)
    sc = scale[mat]
    iy = (cv.t * sc).astype(np.int32) & 511
    ix = (cv.s * sc).astype(np.int32) & 511
    mod = amp[mat] * stack[tex_id[mat], iy, ix]
    ys = np.arange(H)[:, None] & 255
    xs = np.arange(W)[None, :] & 255
    mod = np.where(obj, 0.06 * tx["noise"][ys, xs], mod)
    img = colors[cidx] * (1 + mod)[..., None]
    # windows on buildings, lane markings on the road
    s, t = cv.s, cv.t
    # window grid: 3.0 m bays, 3.2 m storeys (fractional parts via int casts: np.mod on floats is slow)
    qs = (s + 3000.0) * np.float32(1 / 3.0)
    qt = t * np.float32(1 / 3.2)
    fs = qs - qs.astype(np.int32)
    ft = qt - qt.astype(np.int32)
    win = (mat == 3) & (cv.label == C["building"]) & (t > 3) & (fs > 1.4 / 3.0) & (ft > 1.2 / 3.2) & (ft < 2.6 / 3.2)
    img[win] = img[win] * 0.35 + np.float32([0.05, 0.08, 0.12])
    xl, xr = lay["road"]
    road = (cv.layer == _LAYER_GROUND) & (cv.label == C["road"])
    lane = np.zeros((H, W), bool)
    for xm in np.arange(xl + 3.2, xr - 0.5, 3.2):
        lane |= np.abs(s - xm) < 0.08
    lane &= road & (np.mod(t, 9.0) < 4.5)
    img[lane] = 0.85
    img *= cv.shade[..., None]
    # Sky: vertical gradient plus clouds; haze towards the horizon colour with distance (all float32, in place).
    sky = cv.layer == _LAYER_SKY
    horizon = _jitter(rng, (0.78, 0.82, 0.86), 0.04)
    zenith = _jitter(rng, (0.35, 0.55, 0.85), 0.06)
    if sky.any():
        ys, xs = np.nonzero(sky)
        rows = (ys / max(H - 1, 1)).astype(np.float32)[:, None]
        clouds = np.clip(tx["noise"][ys % 256, (xs + int(rng.integers(256))) % 256], 0, None)
        img[sky] = zenith * (1 - rows) + horizon * rows + (clouds * np.float32(rng.uniform(0, 0.25)))[:, None]
    beta = np.float32(rng.uniform(70, 250))
    fog = np.where(sky, np.float32(0), 1 - np.exp(-cv.zbuf.astype(np.float32) / beta))[..., None]
    img += fog * (horizon - img)
    img *= np.float32(rng.uniform(0.8, 1.15))
    img += _sensor_noise(rng, img.shape) * np.float32(rng.uniform(0.004, 0.02))
    np.clip(img, 0, 1, out=img)
    return img
