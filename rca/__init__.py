"""rca: timeout root-cause analysis for Kubernetes clusters running inference and storage."""

__version__ = "0.1.0"
