"""Soft-labelling for label down-sampling (the soft-labels paper): the method, losses and protocols.

- :mod:`.resample`: soft label down-sampling (bilinear/bicubic/area taps on one-hot labels), image
  down-sampling, class priors and the prior discrepancy (Eq. 5), and the figures of Figs. 3-4.
- :mod:`.losses`: soft cross-entropy with the multi-class switch, and its KL form.
- :mod:`.structure`: what a sampler keeps of thin structures and mixed cells, over every cell (Figs. 3-4).
- :mod:`.experiments`: training at 1/8, 1/4, 1/2 resolution with nearest or soft targets (Tables I-IV, Figs. 7-8).
"""
