"""Label noise of the noise study (Rabin et al. §4.1), one module per task."""
