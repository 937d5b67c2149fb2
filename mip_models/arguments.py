"""The argument checks moved to ``spr_core.arguments`` (the lightweight core every package imports);
this name keeps working."""

from spr_core.arguments import *  # noqa: F401,F403
from spr_core.arguments import LAM_MAX  # noqa: F401
