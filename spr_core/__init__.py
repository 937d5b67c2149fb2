"""The lightweight core every other package builds on (numpy only, no solver, no torch): argument
checks (``arguments``) and the array-library-neutral exact SPR prox (``spr_prox_core``)."""
