"""Evaluation of the detector against baselines on a time- and user-split."""
