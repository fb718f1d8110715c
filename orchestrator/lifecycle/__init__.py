"""The session lifecycle on the clock: going live, ending, reminders."""
