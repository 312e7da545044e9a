"""Quality metrics: feature extractors and the distances computed on their features."""
