"""Metrics: Dice, IoU/mIoU from a confusion matrix, pixel accuracy, depth errors, correlations.

Shared module: add functions with small insertions; keep docstrings with shapes.
"""

from __future__ import annotations

import torch
