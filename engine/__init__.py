"""byrote's engine: everything that computes (the store, the jobs, the noise studies and the
memorization scan); the faces, cli/ and tui/, read the store and launch jobs through it."""
