"""amoc-bench: a reproducible re-implementation of the AMOC video re-id model (Liu et al., TCSVT)."""

__version__ = "0.1.0"
