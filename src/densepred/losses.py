"""Losses of the five papers, one section per paper.

Shared module: each section is owned by the engineer reproducing that paper; edit only your section.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# --- spatial-lifting: structure loss (weighted BCE + weighted IoU), masked MSE + masked L1 for depth -------

# --- soft-labels: soft cross-entropy (with the MC switch) and its KL form ---------------------------------

# --- masksup: segmentation + context + task-similarity loss -----------------------------------------------

# --- affinity-regression: label affinity, square-root affinity, AR loss -----------------------------------
