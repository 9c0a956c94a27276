"""Spatial Lifting for Dense Prediction (Xu & Zhang, 2025): the paper's method, losses and protocols.

- :mod:`.lifting`: ``lift`` (Eq. 1-2) and the SL-UNet (a 3D MONAI UNet on the lifted input, Table II); the
  2D UNets it is compared with are the shared registry's ``unet-<L>L-<R>Res``.
- :mod:`.slice_selection`: dense slice supervision (Eq. 4), slice selection and the prediction quality Q.
- :mod:`.losses`: the structure loss and the masked depth loss (Table V).
- :mod:`.decoders`, :mod:`.depth_decoders`: the depth decoders of Tables VI and VIII.
- :mod:`.slice_explanations`: per-slice Grad-CAM, saliency and guided backprop (Fig. 2).
- :mod:`.experiments`: the training and evaluation protocols of Tables III, IV and VIII and Fig. 2 (runs named
  by :class:`~.experiments.SegRun` / :class:`~.experiments.DepthRun`, trained by the engine, kept in the run cache).

Importing the package registers its models: ``sl-unet-<L>L-<R>Res`` (L in 5, 8; R in 1, 2),
``fastdepth-small`` and ``sl-fastdepth-small``.
"""

from ..models import register
from .depth_decoders import DepthNet
from .lifting import SLUNet

for _levels in (5, 8):
    for _res in (1, 2):
        register(f"sl-unet-{_levels}L-{_res}Res", lambda L=_levels, R=_res, **kw: SLUNet(L, R, **kw))
register("fastdepth-small", lambda **kw: DepthNet(lifted=False, **kw))
register("sl-fastdepth-small", lambda **kw: DepthNet(lifted=True, **kw))
