"""Monodepth2's self-supervised losses (Godard et al., "Digging Into Self-Supervised Monocular Depth Estimation",
ICCV 2019): view synthesis by inverse warping, the SSIM + L1 photometric error, per-pixel minimum reprojection,
auto-masking of stationary pixels and the edge-aware smoothness of mean-normalised disparity.

Equations (numbers of the Monodepth2 paper):

* Eq. 2, view synthesis: ``I_{t'->t} = I_{t'} < proj(D_t, T_{t->t'}, K) >``: back-project target pixel p with its
  depth, ``P = D_t(p) K^-1 p~``; move it into the source camera, ``P' = R P + t``; project, ``p' = K P'``; sample
  the source bilinearly at p' (``grid_sample``, border padding, as Monodepth2).
* Eq. 1, photometric error: ``pe(I_a, I_b) = alpha/2 (1 - SSIM(I_a, I_b)) + (1 - alpha) ||I_a - I_b||_1`` with
  alpha = 0.85; SSIM over 3x3 windows (reflection padded, c1 = 0.01^2, c2 = 0.03^2), channels averaged.
* Eq. 4, minimum reprojection: ``L_p = min_{t'} pe(I_t, I_{t'->t})`` per pixel.
* Eq. 5, auto-masking: ``mu = [min_{t'} pe(I_t, I_{t'->t}) < min_{t'} pe(I_t, I_{t'})]``: pixels whose
  un-warped source already matches better than any warped one (static camera, objects moving with it,
  textureless regions) carry no loss. Monodepth2 implements it as one minimum over the identity and the warped
  errors (identity errors plus 1e-5 Gaussian noise to break ties), which is what :func:`min_reprojection` does.
* Eq. 3, smoothness: ``L_s = |d_x d*_t| e^{-|d_x I_t|} + |d_y d*_t| e^{-|d_y I_t|}`` with ``d* = d / mean(d)``.

Why hand-written: kornia (which has SSIM, depth warping and Rodrigues) is not installed in this environment, and
torchmetrics' SSIM map crops its borders where Monodepth2's reflection-padded one keeps every pixel. Each
function is a few tensor expressions following Monodepth2's ``layers.py``; the warping is
``torch.nn.functional.grid_sample``.

Pixel convention: pixel (row i, column j) has its centre at continuous coordinates (j + 0.5, i + 0.5); ``K`` maps
camera points to those coordinates, and ``grid_sample(align_corners=False)`` samples them exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SSIM_C1, SSIM_C2 = 0.01 ** 2, 0.03 ** 2
ALPHA = 0.85
SMOOTHNESS_WEIGHT = 1e-3


def pixel_grid(h: int, w: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Homogeneous pixel centres (3, h*w): rows (j + 0.5, i + 0.5, 1), row-major over (i, j)."""
    i, j = torch.meshgrid(torch.arange(h, device=device, dtype=dtype), torch.arange(w, device=device, dtype=dtype),
                          indexing="ij")
    return torch.stack([j.reshape(-1) + 0.5, i.reshape(-1) + 0.5, torch.ones(h * w, device=device, dtype=dtype)])


def backproject(depth: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Camera points of every pixel: depth (B, 1, H, W), K (B, 3, 3) -> (B, 3, H*W), ``D(p) K^-1 p~``."""
    B, _, H, W = depth.shape
    rays = torch.linalg.inv(K) @ pixel_grid(H, W, depth.device, depth.dtype)
    return rays * depth.reshape(B, 1, H * W)


def project(points: torch.Tensor, K: torch.Tensor, T: torch.Tensor, size: tuple[int, int],
            eps: float = 1e-7) -> tuple[torch.Tensor, torch.Tensor]:
    """Points (B, 3, N) of the target camera -> ``grid_sample`` grid (B, H, W, 2) in the source camera
    ``T`` (B, 4, 4) with intrinsics K (B, 3, 3), and the (B, 1, H, W) mask of points in front of it."""
    H, W = size
    cam = T[:, :3, :3] @ points + T[:, :3, 3:]
    pix = K @ cam
    z = pix[:, 2:3]
    uv = pix[:, :2] / (z + eps)
    grid = torch.stack([2 * uv[:, 0] / W - 1, 2 * uv[:, 1] / H - 1], dim=-1).reshape(-1, H, W, 2)
    return grid, (z > eps).reshape(-1, 1, H, W)


def warp(source: torch.Tensor, depth: torch.Tensor, K: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """Eq. 2: the source image (B, C, H, W) resampled into the target view through the target's depth
    (B, 1, H, W) and ``T`` = T_{t->s} (B, 4, 4): (B, C, H, W). Bilinear, border padding (Monodepth2)."""
    grid, _ = project(backproject(depth, K), K, T, depth.shape[-2:])
    return F.grid_sample(source, grid, mode="bilinear", padding_mode="border", align_corners=False)


def ssim_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Monodepth2's ``SSIM`` layer: ``(1 - SSIM) / 2`` clamped to [0, 1], per pixel and channel (B, C, H, W),
    over 3x3 windows of the reflection-padded images (0 for identical images)."""
    x, y = F.pad(x, (1, 1, 1, 1), mode="reflect"), F.pad(y, (1, 1, 1, 1), mode="reflect")
    mu_x, mu_y = F.avg_pool2d(x, 3, 1), F.avg_pool2d(y, 3, 1)
    sigma_x = F.avg_pool2d(x * x, 3, 1) - mu_x ** 2
    sigma_y = F.avg_pool2d(y * y, 3, 1) - mu_y ** 2
    sigma_xy = F.avg_pool2d(x * y, 3, 1) - mu_x * mu_y
    n = (2 * mu_x * mu_y + SSIM_C1) * (2 * sigma_xy + SSIM_C2)
    d = (mu_x ** 2 + mu_y ** 2 + SSIM_C1) * (sigma_x + sigma_y + SSIM_C2)
    return torch.clamp((1 - n / d) / 2, 0, 1)


def photometric_error(pred: torch.Tensor, target: torch.Tensor, alpha: float = ALPHA) -> torch.Tensor:
    """Eq. 1 per pixel: ``alpha * (1 - SSIM) / 2 + (1 - alpha) * |pred - target|``, channels averaged:
    (B, C, H, W) x 2 -> (B, 1, H, W)."""
    l1 = (pred - target).abs().mean(1, keepdim=True)
    return alpha * ssim_loss(pred, target).mean(1, keepdim=True) + (1 - alpha) * l1


def min_reprojection(reprojection: torch.Tensor, identity: torch.Tensor | None = None,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Eqs. 4-5: per-pixel minimum over sources, with auto-masking.

    ``reprojection`` (B, S, H, W): pe(I_t, I_{s->t}) for each source s; ``identity`` (B, S, H, W):
    pe(I_t, I_s) of the un-warped sources, or ``None`` (no auto-masking). As Monodepth2, the identity errors
    get Gaussian noise of std 1e-5 (from ``generator`` when given) and one minimum is taken over identity and
    reprojection errors together. Returns ``(loss_map, mask)``, both (B, 1, H, W): the minimum (the loss per
    pixel) and mu of Eq. 5 (True where a warped source wins, i.e. the pixel trains the networks; all True
    without ``identity``). Averaging ``loss_map`` gives Monodepth2's loss (masked pixels keep their small
    identity error, which has no gradient).
    """
    if identity is None:
        loss, _ = reprojection.min(dim=1, keepdim=True)
        return loss, torch.ones_like(loss, dtype=torch.bool)
    if identity.shape != reprojection.shape:
        raise ValueError(f"min_reprojection: identity {tuple(identity.shape)} and reprojection "
                         f"{tuple(reprojection.shape)} differ in shape.")
    noise = torch.randn(identity.shape, generator=generator, dtype=identity.dtype).to(identity.device)
    both = torch.cat([identity + 1e-5 * noise, reprojection], dim=1)
    loss, idx = both.min(dim=1, keepdim=True)
    return loss, idx >= identity.shape[1]


def smoothness_loss(disp: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Eq. 3 on the mean-normalised disparity ``d* = d / mean(d)`` (per image): disp (B, 1, H, W), image
    (B, 3, H, W) at the same size -> scalar."""
    d = disp / (disp.mean(dim=(2, 3), keepdim=True) + 1e-7)
    gx, gy = (d[..., :, :-1] - d[..., :, 1:]).abs(), (d[..., :-1, :] - d[..., 1:, :]).abs()
    ix = (image[..., :, :-1] - image[..., :, 1:]).abs().mean(1, keepdim=True)
    iy = (image[..., :-1, :] - image[..., 1:, :]).abs().mean(1, keepdim=True)
    return (gx * torch.exp(-ix)).mean() + (gy * torch.exp(-iy)).mean()


def rotation_from_axisangle(axisangle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula: axis-angle (B, 3) -> rotation matrices (B, 3, 3) (Monodepth2's ``rot_from_axisangle``;
    hand-written because neither kornia nor pytorch3d is installed)."""
    angle = axisangle.norm(dim=-1, keepdim=True)
    axis = axisangle / (angle + 1e-7)
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(-1, 3, 3)  # cross-product matrix
    s, c = torch.sin(angle)[..., None], torch.cos(angle)[..., None]
    eye = torch.eye(3, dtype=axisangle.dtype, device=axisangle.device).expand_as(k)
    return eye + s * k + (1 - c) * (k @ k)


def transformation_from_parameters(axisangle: torch.Tensor, translation: torch.Tensor,
                                   invert: bool = False) -> torch.Tensor:
    """Monodepth2's ``transformation_from_parameters``: (B, 3) or (B, 1, 3) rotation (axis-angle) and (B, 3) translation ->
    4x4 ``[R | t]`` (B, 4, 4); ``invert`` gives ``[R^T | -R^T t]`` (used for frames before the target, whose
    pose the network predicts from (source, target) order)."""
    axisangle, translation = axisangle.reshape(-1, 3), translation.reshape(-1, 3)  # PoseNet's (B, 1, 3) too
    R = rotation_from_axisangle(axisangle)
    t = translation.unsqueeze(-1)
    if invert:
        R = R.transpose(1, 2)
        t = -R @ t
    T = torch.zeros(axisangle.shape[0], 4, 4, dtype=axisangle.dtype, device=axisangle.device)
    T[:, :3, :3], T[:, :3, 3:], T[:, 3, 3] = R, t, 1
    return T


__all__ = ["ALPHA", "SMOOTHNESS_WEIGHT", "backproject", "project", "warp", "ssim_loss", "photometric_error",
           "min_reprojection", "smoothness_loss", "rotation_from_axisangle", "transformation_from_parameters",
           "pixel_grid"]
