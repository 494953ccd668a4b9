"""Admin tools: sign-in, upload checks, kept files, background ingest jobs and document administration."""
