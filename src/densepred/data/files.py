"""Reading image and label files: a pixel limit, RGB conversion, and the rule that turns a mask file into 0/1.

Pixel limit: an image with more than :func:`max_image_pixels` pixels (default 100 megapixels, twice a 7000x7000
whole-slide tile, far above any dataset read here) is refused before it is decoded, with a message saying how
to raise the limit (``$DENSEPRED_MAX_IMAGE_PIXELS`` or :func:`set_max_image_pixels`). The size is read from the
file header, so a decompression bomb costs nothing. Pillow's own ``MAX_IMAGE_PIXELS`` is set to the same value
while the file is decoded (Pillow only warns below twice its limit; ours is one clear error).

Binary masks (:func:`binary_mask`): 8-bit (or 16-bit) single-channel files. The rule:

1. values within {0, 1}: used as they are;
2. values within {0, 255} (or {0, 65535}): foreground = 255;
3. otherwise, only for lossy or tolerant formats (``tolerant=True``: JPEG masks such as Kvasir-SEG's, and
   CVC-ClinicDB's): a mask is a two-level 0/255 mask with compression noise if at least one pixel is >= 192
   ("near 255") and at most :data:`NOISE_SHARE` (5%) of the pixels lie in the middle band 64..191, i.e. nearly
   every pixel is near 0 or near 255; foreground = value >= 128. (A JPEG of a sharp binary mask at quality
   75-95 puts 0.4-1% of the pixels off 0/255, all within 20 of 0 or 255 and none in the middle band, and
   thresholding at 128 recovers the original exactly; measured on 600x530 and 12x16 masks when this rule was
   written.) 16-bit masks use the same bands scaled to 65535.
4. anything else is refused with the file name and the values found: class ids {0, 1, 2}, instance ids
   {0, 1, 2, ..., k}, grey-level class maps or colour maps are not binary masks, and thresholding them would
   silently turn most or all of the object into background.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from .errors import DatasetError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
LOSSY_EXTS = (".jpg", ".jpeg")
PIXEL_LIMIT_ENV = "DENSEPRED_MAX_IMAGE_PIXELS"
DEFAULT_MAX_IMAGE_PIXELS = 100_000_000
NOISE_SHARE = 0.05

_max_pixels: int | None = None


def max_image_pixels() -> int:
    """The pixel limit: :func:`set_max_image_pixels` if called, else ``$DENSEPRED_MAX_IMAGE_PIXELS``, else 100 MP."""
    if _max_pixels is not None:
        return _max_pixels
    env = os.environ.get(PIXEL_LIMIT_ENV)
    if env:
        try:
            value = int(float(env))
        except ValueError:
            raise DatasetError(f"${PIXEL_LIMIT_ENV}={env!r} is not a number of pixels; set it to e.g. 200000000.")
        if value <= 0:
            raise DatasetError(f"${PIXEL_LIMIT_ENV}={env!r} must be a positive number of pixels.")
        return value
    return DEFAULT_MAX_IMAGE_PIXELS


def set_max_image_pixels(pixels: int | None) -> None:
    """Set the pixel limit for this process (``None``: back to the environment / default). DataLoader workers
    started afterwards inherit it on Linux (fork); use the environment variable to be sure."""
    global _max_pixels
    if pixels is not None and int(pixels) <= 0:
        raise DatasetError(f"max image pixels must be positive, got {pixels}")
    _max_pixels = None if pixels is None else int(pixels)


def read_array(path: Path, palette_to_rgb: bool = True) -> np.ndarray:
    """Pixels of an image file. Palette ("P") images become RGB for photographs, but stay palette *indices* for
    label maps (``palette_to_rgb=False``): indexed label PNG/BMP files store the class id as the index."""
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: file not found; check the dataset layout (densepred data verify).")
    limit = max_image_pixels()
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > limit:
                raise DatasetError(
                    f"{path}: {w}x{h} = {w * h:,} pixels is above the limit of {limit:,} pixels (a guard against "
                    f"decompression bombs). If the file is genuine, raise the limit: export {PIXEL_LIMIT_ENV}="
                    f"{w * h} (or call densepred.data.files.set_max_image_pixels({w * h})).")
            old = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = limit
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    im.load()
            finally:
                Image.MAX_IMAGE_PIXELS = old
            if im.mode == "P" and not palette_to_rgb:
                return np.asarray(im)
            if im.mode in ("P", "CMYK", "YCbCr", "LA", "PA"):
                im = im.convert("RGB" if im.mode != "LA" else "L")
            return np.asarray(im)
    except DatasetError:
        raise
    except Exception as e:  # PIL raises several types for truncated/corrupt files
        raise DatasetError(f"{path}: unreadable image file ({type(e).__name__}: {e}); re-extract it from the "
                           "official archive or delete it and its mask.") from e


def read_image(path: Path) -> np.ndarray:
    """RGB image as float32 HxWx3 in 0..1 (grey is repeated, alpha dropped; 16-bit scaled)."""
    arr = read_array(path)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise DatasetError(f"{path}: expected an RGB image, got array of shape {arr.shape}; replace the file "
                           "with the original from the dataset archive.")
    arr = arr[..., :3]
    if arr.dtype == np.uint8:  # the common case: one multiply, already within 0..1
        return np.multiply(arr, np.float32(1 / 255), dtype=np.float32)
    scale = 65535.0 if arr.dtype == np.uint16 else 255.0
    return (arr.astype(np.float32) / scale).clip(0, 1)


def label_values(arr: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an integer label map (a histogram for 8/16-bit maps: ~20x faster than
    ``np.unique`` on a 1024x2048 frame)."""
    if arr.dtype in (np.uint8, np.uint16) or (arr.size and arr.dtype.kind in "iu" and 0 <= arr.min()
                                              and arr.max() < 65536):
        return np.flatnonzero(np.bincount(arr.ravel(), minlength=1))
    return np.unique(arr)


def read_label(path: Path) -> np.ndarray:
    """A single-channel label image as an integer array (RGB label images take the first channel)."""
    arr = read_array(path, palette_to_rgb=False)
    if arr.ndim == 3:
        arr = arr[..., 0]
    return arr


def _values_text(vals: np.ndarray) -> str:
    shown = ", ".join(str(int(v)) for v in vals[:12])
    return "{" + shown + (f", ... ({vals.size} distinct)" if vals.size > 12 else "") + "}"


def binary_mask(arr: np.ndarray, path: Path, tolerant: bool | None = None) -> np.ndarray:
    """0/1 uint8 mask from a mask file's pixels by the rule in the module docstring.

    Args:
        arr: (H, W) integer array as read by :func:`read_label`.
        path: the file (named in errors; its suffix decides ``tolerant`` when that is ``None``).
        tolerant: accept two-level masks with compression noise (rule 3); default: the file is a JPEG.
    """
    path = Path(path)
    if tolerant is None:
        tolerant = path.suffix.lower() in LOSSY_EXTS
    vals = label_values(arr)
    if vals.size == 0 or (vals.min() >= 0 and vals.max() <= 1):
        return arr.astype(np.uint8)
    top = 65535 if vals.max() > 255 else 255
    if np.isin(vals, (0, top)).all():
        return (arr == top).astype(np.uint8)
    q = (top + 1) // 4  # 64 for 8-bit masks: the middle band is [q, 3q)
    if tolerant and vals.min() >= 0 and vals.max() >= 3 * q:
        middle = float(((arr >= q) & (arr < 3 * q)).mean())
        if middle <= NOISE_SHARE:
            return (arr >= 2 * q).astype(np.uint8)
        why = (f"{100 * middle:.1f}% of its pixels lie in the middle band {q}..{3 * q - 1} (compression noise "
               f"leaves at most {100 * NOISE_SHARE:.0f}% there)")
    elif tolerant:
        why = f"no pixel is near {top} (>= {3 * q}), so thresholding at {2 * q} would make it all background"
    else:
        why = f"a lossless binary mask holds only 0/1 or 0/{top}"
    raise DatasetError(
        f"{path}: mask values {_values_text(vals)} cannot be read as a binary mask: {why}. Class ids "
        "{0, 1, 2}, instance ids or grey-level/colour maps are not this dataset's binary ground truth. Fix: use "
        f"the official 0/{top} masks (or convert yours: foreground -> {top}, background -> 0).")
