"""descope-gitops: keep a Descope project's tenants equal to a tenants.yaml kept in Git."""

__version__ = "0.1.0"
