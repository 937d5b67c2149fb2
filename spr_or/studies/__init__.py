"""Studies over the exact models (``spr-or validate``: which closed form is the projection of the
perspective relaxation; ``spr-or gaps``: exact optima against relaxation bounds) and their plots.
They sit above relaxations and mip_models and use no torch."""
