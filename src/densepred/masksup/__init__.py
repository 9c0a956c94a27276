"""Masked Supervised Learning (MaskSup): the method, losses and protocols.

- :mod:`.masking`: the random irregular masks (strokes and holes) of the context branch.
- :mod:`.method`: the two-branch (Siamese) training step and mask-free inference (Sec. 3.1).
- :mod:`.losses`: segmentation + context + task-similarity loss (Eq. 3).
- :mod:`.experiments`: Tables 1, 3, 4 and Figs. 5-6 (robustness to masking): training through the run cache,
  evaluation, trivial baselines.
- :mod:`.convergence`: the chapter's plateau rule (validation mIoU with patience) and training diagnostics.
- :mod:`.claims`: claim builders joining the baseline and plateau preconditions.
- :mod:`.figures`: training-curve figures.
"""
