"""Judgement of what a run means: verdicts, catch-all, greylisting, conclusions, health, expectations."""
