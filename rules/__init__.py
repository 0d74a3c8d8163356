"""Triage: language, sentiment, intents, rules and a learned model -> a ranked score with reasons."""
