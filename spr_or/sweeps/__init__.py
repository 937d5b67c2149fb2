"""Sweeps: many ``spr-or prune`` runs from one experiments/*.yaml file (spec.py), run by an engine
(runner.py: local, pool or submitit) and reported beside the paper's figures (report.py)."""
