"""Monocular depth estimation as pre-training for semantic segmentation (the depth-pretraining paper).

- :mod:`.pretraining`: encoder pre-training by classification (the ImageNet stand-in), supervised depth and
  reconstruction, cached on disk.
- :mod:`.losses`: the supervised depth loss (masked L1).
- :mod:`.experiments`: few-shot fine-tuning for segmentation from each initialisation (Figs. 2-3, Tables 3-4).
"""
