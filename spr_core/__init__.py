"""The lightweight core every other package builds on (numpy only, no solver, no torch):

    arguments        checks of user-supplied arguments (errors that name the argument)
    errors           UserError, InvalidArgument, InvalidArgumentType, NonFiniteLoss
    statuses         Status, the statuses a solver result reports
    problem          GroupSparseProblem, the data of (1)-(3) / (4) of ../shared/MATH.md
    entity_norms     per-entity (||w||_inf, ||w||_2) and the box check every closed form needs
    spr_closed_form  the exact SPR z_i and its minimising y
    published_forms  the paper's printed and the public code's closed forms, as published
    penalties        every compared penalty (SPR variants, big-M, l1, l2, group lasso)
    spr_prox_core    the exact SPR prox, written once for numpy and torch
"""
