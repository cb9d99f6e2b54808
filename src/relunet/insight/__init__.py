"""Seeing inside and teaching: diagnostics, the doctor, traces, explanations, comparisons
over seeds (and their sweeps), the perceptron, figures (uses core, training, data, io)."""
