"""The ``spr-or`` sub-commands, one module each: ``add_arguments(parser)`` and ``run(args)``.

The top layer: a command may import any package below it. Heavy subsystems (torch, the solvers)
are imported inside ``run`` so that ``spr-or --help`` starts at once.
"""
