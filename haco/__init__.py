"""HACO Lab: dense hand-contact estimation experiments, from synthetic twins to paper tables."""

__version__ = "0.1.0"
