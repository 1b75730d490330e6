"""Shared utilities: the package logger and its set-up."""

from mimeiapify.utils.logger import JsonLinesFormatter, logger, setup_logging

__all__ = ["JsonLinesFormatter", "logger", "setup_logging"]
