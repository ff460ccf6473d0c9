"""Pure builders: parsed specs and key material in, Kubernetes manifests (dicts) out."""
