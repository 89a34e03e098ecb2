"""The names the compiler's options choose among, in a module that loads nothing.

The command line lists them in its help and checks them while it parses, before
numpy or the cost model load (``eyeriss compile`` answered from the output cache
never loads them at all).  The modules that give them meaning re-export them.
"""

OBJECTIVES = ("energy", "latency", "edp")  # what a search minimises (cost_models.rowstationary)
SPACES = ("full", "jssc")  # every mapping the hardware allows; only the chip team's (cost_models.rules)
DEFAULT_SPACE = "full"
# Assumed share of zeros in an ifmap or ofmap after a ReLU when no real tensor
# is at hand (cost_models.rlc): AlexNet's measured average is 57.5 % [JSSC Table V]; 0.5 is the
# round, slightly conservative default.  The network input has none.
DEFAULT_ZERO_FRACTION = 0.5
OVER_BUDGET_CHOICES = ("error", "fastest")  # what a network latency budget nothing meets gives (mapper.app.compiler)
DEFAULT_MAX_BATCH = 16  # --batch auto scans 1..16 (assumed; covers JSSC's N=4 AlexNet and N=3 VGG-16)
