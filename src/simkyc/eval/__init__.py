"""Evaluation: pair lists, ROC/DET, FMR/FNMR at operating points, plots."""
