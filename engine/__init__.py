"""byrote's engine: everything that computes (the store, the jobs, the noise studies and the
memorization scan); the faces, cli/ and tui/, read the store and launch jobs through it.

Importing it asks Intel MKL, torch's CPU BLAS, for results that do not depend on the
process (``MKL_CBWR=AUTO,STRICT``, unless the user set it): without it, about one process in
15 got other last bits from the same matrix products on 2 threads (code2seq's path LSTM),
and a run resumed in a new process did not give exactly an uninterrupted run's metrics.
MKL reads the setting at its first call, which no byrote process makes before it imports
this package.
"""
import os

os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
