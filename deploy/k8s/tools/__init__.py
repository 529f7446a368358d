"""Tools of the Kubernetes manifests: the KafkaTopic generator and the offline validator."""
