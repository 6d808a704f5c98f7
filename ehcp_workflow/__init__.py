"""ehcp-workflow: statutory clocks for EHC needs assessments and plans."""

__version__ = "0.1.0"
