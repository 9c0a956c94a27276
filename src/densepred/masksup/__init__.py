"""Masked Supervised Learning (MaskSup): the method, losses and protocols.

- :mod:`.masking`: the random irregular masks (strokes and holes) of the context branch.
- :mod:`.method`: the two-branch (Siamese) training step and mask-free inference (Sec. 3.1).
- :mod:`.losses`: segmentation + context + task-similarity loss (Eq. 3).
- :mod:`.experiments`: Tables 1, 3, 4 and Figs. 5-6 (robustness to masking).
"""
