"""Evaluations and benchmarks that evaluators run offline: metrics reports, baselines, policy replay."""
