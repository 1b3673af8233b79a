"""The cost models behind the guides' figures and calculators, one module per calculator.

Each is a MODEL, not a measurement: its inputs are stated assumptions with sources. Each
module's ``DEFAULTS`` are the inputs its evidence page prints and draws, and
``calculator_defaults()`` hands them to its calculator in the browser
(``_static/calculators.js``, a port held to agree with these functions by
``tests/test_calculators.py``).
"""

CALCULATORS = ("decomposition", "parallelism", "interruptible")
