"""The Textual app, one of byrote's two faces: it reads the store and enqueues jobs."""
