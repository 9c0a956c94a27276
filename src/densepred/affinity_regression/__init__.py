"""Square-root Affinity Regression (the affinity-regression paper): the method, losses and protocols.

- :mod:`.losses`: label affinity, square-root affinity of the predictions and the AR loss (Sec. 3).
- :mod:`.experiments`: train the base network to its best validation score, then continue with CE + AR or CE
  only (Tables 1-3, Figs. 3-4).
"""
