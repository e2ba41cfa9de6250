"""harness: offline prompt testing and regression for OpenAI-style chat APIs."""

__version__ = "0.1.0"
