"""Decision Gate enterprise: plugins that bind platform_core, PostgreSQL and S3
into the seams of the open core. It never changes how a gate evaluates."""

__version__ = "0.1.0"
