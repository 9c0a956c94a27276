"""Monocular depth estimation as pre-training for semantic segmentation (the depth-pretraining paper).

- :mod:`.pretraining`: encoder pre-training by classification (the ImageNet stand-in), supervised depth and
  reconstruction (inpainting), trained through :func:`densepred.engine.fit` and kept in the run cache
  (:func:`~.pretraining.pretrain`, keyed by a :class:`~.pretraining.PretrainSpec` and the seed).
- :mod:`.losses`: the supervised depth loss (masked L1).
- :mod:`.experiments`: few-shot fine-tuning for segmentation from each initialisation (Figs. 2-5, Tables 1, 3, 4),
  through the engine and the run cache (:func:`~.experiments.finetune`, keyed by a
  :class:`~.experiments.FewShotRun`), streamed evaluation and the majority-class baseline.
"""
