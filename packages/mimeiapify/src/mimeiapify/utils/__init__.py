"""Shared utilities: the package logger, its set-up, and 1.4's helper functions."""

from mimeiapify.utils import helper_functions
from mimeiapify.utils.logger import JsonLinesFormatter, logger, setup_logging

__all__ = ["JsonLinesFormatter", "helper_functions", "logger", "setup_logging"]
