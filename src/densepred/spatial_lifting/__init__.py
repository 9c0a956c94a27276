"""Spatial Lifting for Dense Prediction (Xu & Zhang, 2025): the paper's method, losses and protocols.

- :mod:`.lifting`: ``lift`` (Eq. 1-2) and the SL-UNet (a 3D MONAI UNet on the lifted input, Table II); the
  2D UNets it is compared with are the shared registry's ``unet-<L>L-<R>Res``.
- :mod:`.slice_selection`: dense slice supervision (Eq. 4), slice selection and the prediction quality Q.
- :mod:`.losses`: the structure loss and the masked depth loss (Table V).
- :mod:`.encoders`: the paper's encoders from timm (MobileNetV2, ResNeXt-101 32x8d, PVTv2-b2) and a small
  encoder trained from scratch.
- :mod:`.paper_depth_decoders`: FastDepth's and MiDaS's decoders and their lifted counterparts (Tables VI, VIII);
  :mod:`.cascade`, :mod:`.emcad` and :mod:`.attention_blocks`: the PVTv2 decoders of Table VI;
  :mod:`.table_vi`: Table VI's rows, counted alone.
- :mod:`.depth_networks`: an encoder joined to one of the depth decoders (Table VIII); :mod:`.depth_training`:
  those networks trained to a validation plateau (:class:`~.depth_training.Table8Run`, ``table8_run``).
- :mod:`.slice_explanations`: per-slice Grad-CAM, saliency and guided backprop (Fig. 2).
- :mod:`.experiments`: the training and evaluation protocols of Tables III, IV and Fig. 2 and the depth
  protocol of Table VIII (runs named by :class:`~.experiments.SegRun` / :class:`~.depth_training.Table8Run`,
  trained by the engine, kept in the run cache); :mod:`.summaries`: per-seed summaries and preconditions.

Importing the package registers its models: ``sl-unet-<L>L-<R>Res`` (L in 5, 8; R in 1, 2).
"""

from ..models import register
from .lifting import SLUNet

for _levels in (5, 8):
    for _res in (1, 2):
        register(f"sl-unet-{_levels}L-{_res}Res", lambda L=_levels, R=_res, **kw: SLUNet(L, R, **kw))
